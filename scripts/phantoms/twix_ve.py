"""Write a simulated scan as a Siemens TWIX VE file through twixtools' own writer.

The file holds two measurements, as a scanner's does: a short adjustment
measurement (one readout) and the imaging measurement, each with the
realistic header of ``header.py``; the RAID entries carry the patient's name.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import twixtools
from twixtools import hdr_def, mdh_def
from twixtools.mdb import Mdb_local
from twixtools.quat import directions_to_quaternion

from recon_image.raw.readouts import Flag
from scripts.phantoms.header import (
    Patient,
    Site,
    measurement_buffers,
    measurement_header_bytes,
)
from scripts.phantoms.scan import SimulatedScan

ACQEND_DMA_LENGTH = 352  # what scanners write: 192-byte scan header and 160 bytes
MEAS_UID = 1234


def slice_quaternion(read: np.ndarray, phase: np.ndarray) -> list[float]:
    """Siemens SliceData quaternion, scalar first, of an image with columns along ``read``.

    The scanner's rotation has the columns P, R, S (phase-encoding axis,
    readout axis, slice normal P x R); the image a centred inverse FFT makes
    advances along -R and -P (as ``twixtools.geometry`` reads it).
    """
    gradient_read = -np.asarray(read, dtype=np.float64)
    gradient_phase = -np.asarray(phase, dtype=np.float64)
    normal = np.cross(gradient_phase, gradient_read)
    # twixtools.quat works in ISMRMRD's order, scalar last
    x, y, z, w = directions_to_quaternion(gradient_phase, gradient_read, normal)
    return [float(w), float(x), float(y), float(z)]


def _scan_mdb(scan: SimulatedScan, row: int, counter: int) -> Mdb_local:
    entry = scan.readouts[row]
    data = scan.samples[row]
    mdb = Mdb_local(data)
    samples = data.shape[-1]
    mdb.channel_hdr = [
        mdh_def.Channel_header(
            TypeAndChannelLength=((32 + 8 * samples) << 8) | 2,
            MeasUID=MEAS_UID,
            ScanCounter=counter,
            SequenceTime=counter * 5,
            ChannelId=c,
        )
        for c in range(data.shape[0])
    ]
    mdh = mdb.mdh
    mdh.MeasUID = MEAS_UID
    mdh.TimeStamp = 32_000_000 + counter * 5
    mdh.PMUTimeStamp = 1_000_000 + counter * 5
    mdh.EvalInfoMask = int(entry["flags"])
    for ours, theirs in (
        ("lin", "Lin"),
        ("ave", "Ave"),
        ("sli", "Sli"),
        ("par", "Par"),
        ("eco", "Eco"),
        ("phs", "Phs"),
        ("rep", "Rep"),
        ("set", "Set"),
        ("seg", "Seg"),
    ):
        setattr(mdh.Counter, theirs, int(entry[ours]))
    mdh.CenterCol = int(entry["centre_column"])
    mdh.CenterLin = int(entry["centre_line"])
    mdh.CenterPar = int(entry["centre_partition"])
    mdh.TimeSinceLastRF = 2500
    mdh.ReadOutOffcentre = float(entry["readout_offcentre"])
    position = mdh.SliceData.SlicePos
    position.Sag, position.Cor, position.Tra = (float(x) for x in entry["position"])
    mdh.SliceData.Quaternion[:] = slice_quaternion(entry["read_dir"], entry["phase_dir"])
    mdh_def.set_dma_len(mdh, 192 + data.shape[0] * (32 + 8 * samples))
    return mdb


def _acqend() -> Mdb_local:
    acqend = Mdb_local()
    acqend.add_flag("ACQEND")
    acqend.mdh.MeasUID = MEAS_UID
    mdh_def.set_dma_len(acqend.mdh, ACQEND_DMA_LENGTH)
    return acqend


def _raid_entry(meas_id: int, patient: Patient, protocol_name: str) -> np.void:
    entry = np.zeros(1, dtype=hdr_def.MrParcRaidFileEntry)[0]
    entry["measId_"] = meas_id
    entry["fileId_"] = meas_id + 1000
    entry["patName_"] = patient.name.encode("latin-1")[:64]
    entry["protName_"] = protocol_name.encode("latin-1")[:64]
    return entry


def write_ve(
    scan: SimulatedScan,
    path: Path,
    *,
    patient: Patient | None = None,
    site: Site | None = None,
) -> Path:
    """Write ``scan`` to ``path`` (which must not exist) as a two-measurement VE file."""
    patient = patient or Patient()
    site = site or Site()
    imaging_rows = np.flatnonzero((scan.readouts["flags"] & Flag.NOISEADJSCAN.mask) == 0)
    adjustment = dataclasses.replace(
        scan.protocol, protocol_name="AdjCoilSens", slices=scan.protocol.slices[:1]
    )
    measurements = []
    for meas_id, protocol, rows, chron in (
        (101, adjustment, imaging_rows[:1], (0,)),
        (102, scan.protocol, np.arange(len(scan.readouts)), scan.chronological_slices),
    ):
        buffers = measurement_buffers(protocol, patient, site, chron)
        header = np.frombuffer(measurement_header_bytes(buffers), dtype="S1")
        mdbs = [_scan_mdb(scan, int(row), i + 1) for i, row in enumerate(rows)]
        mdbs.append(_acqend())
        entry = _raid_entry(meas_id, patient, protocol.protocol_name)
        measurements.append({"hdr_str": header, "mdb": mdbs, "raidfile_hdr": entry})
    twixtools.write_twix(measurements, str(path))
    return Path(path)

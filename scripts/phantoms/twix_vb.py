"""Write a simulated scan as a Siemens TWIX VB file: header, then an mdh before every channel.

twixtools writes VE only, so this is our own writer; it takes the VB mdh
layout from twixtools' ``VB17_header`` and fills all mdhs at once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from twixtools import mdh_def

from recon_image.raw.readouts import Flag
from scripts.phantoms.header import Patient, Site, measurement_buffers, measurement_header_bytes
from scripts.phantoms.scan import SimulatedScan
from scripts.phantoms.twix_ve import MEAS_UID, slice_quaternion

MDH = np.dtype(mdh_def.VB17_header)
ACQEND_SAMPLES = 16
_COUNTERS = (
    ("lin", "Lin"),
    ("ave", "Ave"),
    ("sli", "Sli"),
    ("par", "Par"),
    ("eco", "Eco"),
    ("phs", "Phs"),
    ("rep", "Rep"),
    ("set", "Set"),
    ("seg", "Seg"),
)


def write_vb(
    scan: SimulatedScan,
    path: Path,
    *,
    patient: Patient | None = None,
    site: Site | None = None,
) -> Path:
    """Write ``scan`` to ``path`` (which must not exist) as a VB file."""
    patient = patient or Patient()
    site = site or Site()
    buffers = measurement_buffers(scan.protocol, patient, site, scan.chronological_slices)
    header = measurement_header_bytes(buffers)
    count, coils, samples = scan.samples.shape
    record = np.dtype([("mdh", MDH), ("data", np.complex64, (samples,))])
    blocks = np.zeros((count, coils), dtype=record)
    mdh = blocks["mdh"]
    table = scan.readouts
    mdh["FlagsAndDMALength"] = coils * (MDH.itemsize + 8 * samples)
    mdh["MeasUID"] = MEAS_UID
    mdh["ScanCounter"] = (np.arange(count) + 1)[:, None]
    mdh["TimeStamp"] = (32_000_000 + 5 * np.arange(count))[:, None]
    mdh["EvalInfoMask"] = table["flags"][:, None]
    mdh["SamplesInScan"] = samples
    mdh["UsedChannels"] = coils
    for ours, theirs in _COUNTERS:
        mdh["Counter"][theirs] = table[ours][:, None]
    mdh["CenterCol"] = table["centre_column"][:, None]
    mdh["CenterLin"] = table["centre_line"][:, None]
    mdh["CenterPar"] = table["centre_partition"][:, None]
    mdh["TimeSinceLastRF"] = 2500
    mdh["ReadOutOffcentre"] = table["readout_offcentre"][:, None]
    for axis, name in enumerate(("Sag", "Cor", "Tra")):
        mdh["SliceData"]["SlicePos"][name] = table["position"][:, axis, None]
    quaternions = np.array(
        [
            slice_quaternion(r, p)
            for r, p in zip(table["read_dir"], table["phase_dir"], strict=True)
        ],
        dtype=np.float32,
    )
    mdh["SliceData"]["Quaternion"] = quaternions[:, None, :]
    mdh["ChannelId"] = np.arange(coils)[None, :]
    blocks["data"] = scan.samples

    acqend = np.zeros(1, dtype=np.dtype([("mdh", MDH), ("data", np.complex64, (ACQEND_SAMPLES,))]))
    acqend["mdh"]["FlagsAndDMALength"] = MDH.itemsize + 8 * ACQEND_SAMPLES
    acqend["mdh"]["MeasUID"] = MEAS_UID
    acqend["mdh"]["ScanCounter"] = count + 1
    acqend["mdh"]["EvalInfoMask"] = Flag.ACQEND.mask
    acqend["mdh"]["SamplesInScan"] = ACQEND_SAMPLES
    acqend["mdh"]["UsedChannels"] = 1
    with Path(path).open("xb") as file:
        file.write(header)
        blocks.tofile(file)
        acqend.tofile(file)
    return Path(path)

"""Small DICOM series as the reconstruction worker writes them, and a known patient."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.identity import PatientIdentity
from recon_image.dicom import write_series
from recon_image.raw.kspace import Protocol, SliceGeometry

TASK_ID = "5b0d6c2e-8f41-4a7d-b3e9-2c6f1a9d7e04"
ROWS, COLS = 16, 16


def patient(task_id: str = TASK_ID, **changes: str) -> PatientIdentity:
    """A fictitious patient and exam with a value in every field re-identification writes."""
    values = {
        "name": "Brennan^Elowen^Maire",
        "patient_id": "MRN-7731-0452",
        "birth_date": "19580923",
        "accession": "ACC88412907",
        "task_uuid": task_id,
        "exam_date": "20240311",
        "exam_time": "142507",
    }
    values.update(changes)
    return PatientIdentity(**values)


def _protocol(n_slices: int) -> Protocol:
    slices = tuple(
        SliceGeometry(
            position_mm=(0.0, 0.0, 5.0 * i),
            read_dir=(1.0, 0.0, 0.0),
            phase_dir=(0.0, 1.0, 0.0),
            slice_dir=(0.0, 0.0, 1.0),
            thickness_mm=4.0,
        )
        for i in range(n_slices)
    )
    return Protocol(
        sequence_name="*tse2d1_7",
        protocol_name="t2_tse_tra",
        dimension=2,
        matrix=(COLS, ROWS, 1),
        fov_mm=(160.0, 160.0, 4.0),
        readout_oversampling=2.0,
        partial_fourier=(1.0, 1.0),
        acceleration=(1, 1),
        slices=slices,
        slice_spacing_mm=5.0,
        tr_ms=3000.0,
        te_ms=(90.0,),
        ti_ms=None,
        flip_deg=150.0,
        field_strength_t=2.89,
    )


def worker_series(
    out_dir: Path, task_id: str = TASK_ID, *, series_number: int = 1, n_slices: int = 3
) -> list[Path]:
    """One series of ``n_slices`` 16x16 images written by the worker's own DICOM writer."""
    rng = np.random.default_rng(series_number)
    pixels = rng.integers(0, 4000, size=(1, n_slices, ROWS, COLS), dtype=np.uint16)
    return write_series(
        pixels,
        _protocol(n_slices),
        out_dir,
        task_id=task_id,
        series_description=f"series {series_number}",
        series_number=series_number,
    )

"""``SetDCMTags``: complete DICOM for the images a mode's own program wrote.

Yarra's modes end their reconstruction with this post-processing module::

    [PostProcessing]
    Bin=%bd/SetDCMTags
    Args=%pid %pod %rif -a %vacc -m %mc

``SetDCMTags INPUT_DIR OUTPUT_DIR RAW_FILE [-a ACC] [-m MODE_FILE] [-d FILE] [-l]``
reads the DICOM files in ``INPUT_DIR`` (written by ``bart toimg`` or any
program that only writes pixels), takes the geometry and protocol from the
raw file's header and writes each series again through the worker's own
writer (:func:`recon_image.dicom.write_series`) into ``OUTPUT_DIR``: complete
MR Image Storage with its position, orientation and spacing, placeholders for
the patient and UIDs derived from the task (``YC_TASK_UUID``, else the raw
file's name, which in the cloud is the task's UUID).

Files are grouped into series by their names as Yarra's are:
``series<N>.slice<M>.dcm`` is image M of series N. A name without ``series``
belongs to series 1 and without ``slice`` is ordered by its last number
(``bart toimg`` writes ``prefix-0000.dcm``, ``prefix-0001.dcm`` … over its
loop dimensions). Each series holds one image per slice (2D) or partition
(3D) and volume, in the order :func:`arrange` describes. An image is in
BART's orientation (rows the readout, columns the phase-encoding lines);
readout oversampling still in it is removed by keeping the centre, as the
scanner does. Images of any other size are refused with the reason, never
written with a wrong geometry.

``-a`` is taken as Yarra's module takes it, but its value is never written:
the cloud holds no accession number, and the site puts it back when the
images come home. ``-m`` names the mode file: its ``[ClientConfig]`` Name is
the series description. ``-d`` and ``-l`` are accepted for compatibility.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recon_image.errors import BadInput, RawDataError
from recon_image.programs import run_guarded
from recon_image.settings import ProgramSettings

logger = logging.getLogger("yarracloud.setdcmtags")

_SERIES = re.compile(r"series(\d+)", re.IGNORECASE)
_SLICE = re.compile(r"slice(\d+)", re.IGNORECASE)
_NUMBER = re.compile(r"(\d+)")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise BadInput(f"{message}; fix the mode's Args (INPUT OUTPUT RAWFILE ...)")


def parser() -> argparse.ArgumentParser:
    """The program's command line, as Yarra's module takes it."""
    p = _Parser(prog="SetDCMTags", description=__doc__.splitlines()[0])
    p.add_argument("input_dir", type=Path, help="folder with the DICOM files to complete")
    p.add_argument("output_dir", type=Path, help="folder for the complete DICOM files")
    p.add_argument("raw_file", type=Path, help="the raw data file the images came from")
    p.add_argument("-a", dest="acc", default="", help="accession number (never written)")
    p.add_argument("-m", dest="mode_file", type=Path, default=None, help="the mode file")
    p.add_argument("-d", dest="dynamic_settings", default=None, help="accepted, not used")
    p.add_argument("-l", dest="extended_log", action="store_true", help="log every file")
    return p


@dataclass(frozen=True)
class InputImage:
    """One file of the input folder: its series and its place in the series."""

    series: int
    order: tuple[int, str]
    path: Path


def group_series(files: Sequence[Path]) -> dict[int, list[Path]]:
    """The input files by series number, each series in image order (see the module's docstring)."""
    images = []
    for path in files:
        series = _SERIES.search(path.name)
        slice_ = _SLICE.search(path.name)
        numbers = _NUMBER.findall(_SERIES.sub("", path.stem))
        position = int(slice_.group(1)) if slice_ else int(numbers[-1]) if numbers else 0
        images.append(
            InputImage(int(series.group(1)) if series else 1, (position, path.name), path)
        )
    grouped: dict[int, list[Path]] = {}
    for image in sorted(images, key=lambda i: (i.series, i.order)):
        grouped.setdefault(image.series, []).append(image.path)
    return grouped


def to_protocol_matrix(
    image: np.ndarray, matrix: tuple[int, int], oversampling: float, name: str
) -> np.ndarray:
    """``image`` (readout, phase) as (phase lines, readout samples) of the protocol's matrix.

    Raises
    ------
    BadInput
        When the image is neither the matrix nor the matrix with readout oversampling.
    """
    readout, lines = matrix
    acquired = round(readout * oversampling)
    if image.ndim != 2 or image.shape[1] != lines or image.shape[0] not in (readout, acquired):
        raise BadInput(
            f"the image {name} is {' x '.join(map(str, image.shape))} pixels (readout x phase)"
            f" but the raw file's protocol has {readout} x {lines} ({acquired} readout samples"
            " with oversampling); the mode's reconstruction must write one image per slice of the"
            " protocol's matrix, readout first as bart toimg does"
        )
    start = (image.shape[0] - readout) // 2
    return np.ascontiguousarray(image[start : start + readout].T)


def place_of_counters(counters: np.ndarray, z: np.ndarray) -> np.ndarray:
    """For each slice counter 0 … n-1 of a 2D scan's readouts, its slice's place in space.

    Raises
    ------
    BadInput
        When the counters do not number the slices from 0, so images indexed by
        them (as BART's) cannot be placed.
    """
    slices = int(z.max()) + 1
    pairs = set(zip(counters.tolist(), z.tolist(), strict=True))
    place = dict(pairs)
    if len(pairs) != slices or sorted(place) != list(range(slices)):
        raise BadInput(
            f"the raw file's slice counters {sorted(place)} do not number its {slices} slices"
            " from 0, so images indexed by them cannot be placed"
        )
    return np.asarray([place[counter] for counter in range(slices)])


def arrange(stack: np.ndarray, spatial: np.ndarray, dimension: int, by_name: bool) -> np.ndarray:
    """The images of one series, in file order, as (volumes, z, rows, cols).

    Images numbered by ``slice<M>`` run volume after volume, slices in space
    order. ``bart toimg`` loops its dimensions lowest first: a 3D scan's
    partitions (dimension 2) vary fastest, a 2D scan's slices (dimension 13,
    by slice counter; ``spatial`` gives each one's place) slowest, after echoes
    and repetitions.
    """
    nz = spatial.size
    volumes = len(stack) // nz
    if by_name or dimension == 3:
        return stack.reshape(volumes, nz, *stack.shape[1:])
    by_counter = stack.reshape(nz, volumes, *stack.shape[1:]).swapaxes(0, 1)
    ordered = np.empty_like(by_counter)
    ordered[:, spatial] = by_counter
    return ordered


def mode_name(mode_file: Path | None) -> str:
    """The ``[ClientConfig]`` Name of the mode file, or "" without one."""
    if mode_file is None:
        return ""
    from recon_image.modes.modefile import load_mode

    return load_mode(mode_file).client_config.get("Name", "").strip()


def set_tags(
    input_dir: Path,
    output_dir: Path,
    raw_file: Path,
    *,
    task_id: str,
    description: str = "",
) -> list[Path]:
    """Write complete DICOM series for the images in ``input_dir``; return the files written.

    Raises
    ------
    BadInput
        No DICOM image in ``input_dir``, an unreadable raw file, or images that
        do not fit its protocol.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    from recon_image.dicom import write_series
    from recon_image.modes.runner import is_dicom
    from recon_image.raw.read import read_measurement
    from recon_image.raw.sort import assemble, plan_layout

    files = sorted(p for p in input_dir.iterdir() if p.is_file() and is_dicom(p))
    if not files:
        raise BadInput(
            f"found no DICOM file in {input_dir.name}; the step before it must write"
            " its images there (bart toimg IMAGE %pod/series1.dcm)"
        )
    try:
        measurement = read_measurement(raw_file)
        layout = plan_layout(measurement)
        protocol = assemble(measurement, layout).protocol
    except RawDataError as error:
        raise RawDataError(Path(error.path).name, error.offset, error.problem) from None
    nz = len(protocol.slices) if protocol.dimension == 2 else protocol.matrix[2]
    # BART's twixread indexes a 2D scan's slices by the readouts' slice counter
    spatial = (
        place_of_counters(measurement.readouts["sli"][layout.rows], layout.z)
        if protocol.dimension == 2
        else np.arange(nz)
    )
    written: list[Path] = []
    for series, paths in group_series(files).items():
        if len(paths) % nz:
            raise BadInput(
                f"series {series} has {len(paths)} images, not a whole number of volumes of"
                f" {nz} {'slices' if protocol.dimension == 2 else 'partitions'} as the raw file's"
                " protocol has; write one image per slice (or partition) and volume"
            )
        images = []
        for path in paths:
            try:
                pixels = pydicom.dcmread(path).pixel_array
            except (InvalidDicomError, AttributeError, ValueError, OSError) as exc:
                raise BadInput(f"{path.name} is not a readable DICOM image ({exc})") from None
            images.append(
                to_protocol_matrix(
                    pixels,
                    (protocol.matrix[0], protocol.matrix[1]),
                    protocol.readout_oversampling,
                    path.name,
                )
            )
        by_name = any(_SLICE.search(path.name) for path in paths)
        written += write_series(
            arrange(
                np.stack(images).astype(np.uint16, copy=False), spatial, protocol.dimension, by_name
            ),
            protocol,
            output_dir,
            task_id=task_id,
            series_description=description or protocol.protocol_name or "SetDCMTags",
            series_number=series,
        )
        logger.info("series %d: %d images from %s", series, len(paths), input_dir.name)
    return written


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run the program; return its exit code (0, 65 bad input, 70 internal fault)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    environment = env if env is not None else {}
    settings = ProgramSettings.from_env(environment)

    def run() -> None:
        args = parser().parse_args(argv)
        if not args.input_dir.is_dir():
            raise BadInput(f"the input folder {args.input_dir} does not exist")
        if not args.raw_file.is_file():
            raise BadInput(f"the raw data file {args.raw_file.name} does not exist; pass %rif")
        if args.extended_log:
            logger.setLevel(logging.DEBUG)
        task_id = environment.get("YC_TASK_UUID", "").strip() or args.raw_file.stem
        files = set_tags(
            args.input_dir,
            args.output_dir,
            args.raw_file,
            task_id=task_id,
            description=mode_name(args.mode_file),
        )
        logger.debug("wrote %s", ", ".join(p.name for p in files))

    return run_guarded("SetDCMTags", settings.error_file, run)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ))

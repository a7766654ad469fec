"""What the worker cannot reconstruct right, refused before any image is made, with the evidence.

Every rule reads the header values and readout flags of one measurement and,
when the reconstruction would come out wrong, raises ``Unsupported`` naming
what was found (the header parameter and its value, how many readouts carry
which flag) and what the site can do. An image that is silently wrong is
never the answer.

Readouts left out on purpose, because the image does not need them: noise
adjustment scans (used for prewhitening), SYNCDATA, and the scanner's
real-time feedback readouts (RTFEEDBACK, HPFEEDBACK).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NoReturn

import numpy as np

from recon_image.errors import BadInput
from recon_image.pipeline.epi import offcentre_phase_error, sample_positions, supported_columns
from recon_image.raw.readouts import Flag, RawMeasurement, has_flag, imaging

Method = Literal["cartesian", "grappa", "sense", "cs", "grasp"]
"""The built-in reconstructions: yc-cartesian, and yc-parallel's methods."""

REGRID_MODES = {2: "trapezoidal", 4: "sinusoidal"}
"""``alRegridMode`` values whose ramps are regridded."""

ECHO_TOLERANCE = 0.05
"""Samples by which the gradient area's middle and the ADC's middle may differ."""

OFFCENTRE_PHASE_LIMIT = 0.1
"""Largest phase (rad) a readout off-centre may leave on ramp samples."""

_UNUSED_NAVIGATORS = (Flag.PHASESTABSCAN, Flag.REFPHASESTABSCAN)

Refuse = Callable[[str, list[str], str], NoReturn]
"""Raises ``Unsupported`` with (problem, header evidence, what to do)."""


class Unsupported(BadInput):
    """A measurement the chosen reconstruction would get wrong."""

    def __init__(self, path: str, problem: str, evidence: list[str], advice: str) -> None:
        super().__init__(f"{path}: {problem}; header evidence: {', '.join(evidence)}; {advice}")


def is_epi(measurement: RawMeasurement) -> bool:
    """Echo-planar: ramp-sampled readouts, PHASCOR navigators or an EPI factor above 1."""
    protocol = measurement.protocol
    return (
        protocol.ramp_sampling is not None
        or protocol.epi_factor > 1
        or bool(has_flag(measurement.readouts, Flag.PHASCOR).any())
    )


def refuse_unsupported(measurement: RawMeasurement, method: Method | None = None) -> None:
    """Raise ``Unsupported`` where ``method`` (None: any method) would get the measurement wrong."""
    name = measurement.path.name
    table = measurement.readouts
    protocol = measurement.protocol
    counts = {flag: int(has_flag(table, flag).sum()) for flag in Flag}

    def refuse(problem: str, evidence: list[str], advice: str) -> NoReturn:
        raise Unsupported(name, problem, evidence, advice)

    unused = [f"{counts[f]} readouts flagged {f.name}" for f in _UNUSED_NAVIGATORS if counts[f]]
    if unused:
        refuse(
            "the measurement holds phase-stabilisation navigators that no built-in "
            "reconstruction applies, and the image would be wrong without them",
            unused,
            "switch phase stabilisation off in the protocol, or reconstruct it on the scanner",
        )
    if protocol.ramp_sampling is not None:
        _refuse_ramps(measurement, refuse)
    if is_epi(measurement):
        _refuse_epi(measurement, counts, method, refuse)
    _refuse_mixing(measurement, refuse)
    if method in ("cartesian", "grasp") and counts[Flag.PATREFSCAN] > counts[Flag.PATREFANDIMASCAN]:
        refuse(
            f"the measurement holds parallel-imaging reference scans that the {method} "
            "reconstruction does not use",
            [
                f"{counts[Flag.PATREFSCAN] - counts[Flag.PATREFANDIMASCAN]} readouts flagged "
                "PATREFSCAN alone",
                f"sPat.lAccelFactPE = {protocol.acceleration[0]}",
                f"sPat.lRefLinesPE = {protocol.reference_lines[0]}",
            ],
            "choose a parallel-imaging mode (GRAPPA, SENSE or compressed sensing)",
        )
    if method == "cartesian" and protocol.acceleration != (1, 1):
        refuse(
            "the measurement is accelerated (parallel imaging) and the Cartesian "
            "reconstruction fills no skipped lines",
            [
                f"sPat.lAccelFactPE = {protocol.acceleration[0]}",
                f"sPat.lAccelFact3D = {protocol.acceleration[1]}",
            ],
            "choose a parallel-imaging mode (GRAPPA, SENSE or compressed sensing)",
        )


def _refuse_ramps(measurement: RawMeasurement, refuse: Refuse) -> None:
    ramp = measurement.protocol.ramp_sampling
    assert ramp is not None
    table = measurement.readouts
    evidence = [
        f"alRegridMode = {ramp.mode}",
        f"alRegridRampupTime = {ramp.rampup_us:g}",
        f"alRegridFlattopTime = {ramp.flattop_us:g}",
        f"alRegridRampdownTime = {ramp.rampdown_us:g}",
        f"alRegridDelaySamplesTime = {ramp.delay_us:g}",
        f"aflRegridADCDuration = {ramp.adc_duration_us:g}",
    ]
    advice = "switch ramp sampling off in the protocol, or reconstruct it on the scanner"
    if ramp.mode not in REGRID_MODES:
        known = " and ".join(f"{name} ({mode})" for mode, name in REGRID_MODES.items())
        refuse(
            f"its readouts are ramp-sampled with regridding mode {ramp.mode}, and only "
            f"{known} ramps are regridded",
            evidence[:1],
            advice,
        )
    end = ramp.rampup_us + ramp.flattop_us + ramp.rampdown_us
    if (
        min(ramp.rampup_us, ramp.rampdown_us, ramp.adc_duration_us) <= 0
        or ramp.flattop_us < 0
        or ramp.delay_us < 0
        or ramp.delay_us + ramp.adc_duration_us > end
    ):
        refuse(
            "the ramp-sampling parameters do not describe an ADC inside the readout gradient",
            evidence,
            "the header is damaged: copy the file from the scanner again",
        )
    sampled = ~has_flag(table, Flag.NOISEADJSCAN)
    lengths = np.unique(table["samples"][sampled])
    if lengths.size != 1:
        refuse(
            "its ramp-sampled readouts differ in length, and one trajectory regrids them all",
            [*evidence[:1], f"readouts of {', '.join(str(int(n)) for n in lengths)} samples"],
            advice,
        )
    samples = int(lengths[0])
    centres = np.unique(table["centre_column"][sampled])
    if centres.tolist() != [samples // 2]:
        refuse(
            "its ramp-sampled readouts have an asymmetric echo, which is not regridded",
            [*evidence[:1], f"KSpaceCentreColumn {centres.tolist()} of {samples} samples"],
            advice,
        )
    positions = sample_positions(ramp, samples)
    echo = float(positions[samples // 2 - 1] + positions[samples // 2]) / 2
    if abs(echo) > ECHO_TOLERANCE:
        refuse(
            "its readout gradient's ramps or ADC are not symmetric, so where k = 0 lies "
            f"(the middle of the gradient area or of the ADC, {abs(echo):.2f} samples apart) "
            "is ambiguous",
            evidence,
            advice,
        )
    if ramp.destination_samples not in (0, samples):
        refuse(
            f"its ramp-sampled readouts of {samples} samples are to be regridded onto "
            f"{ramp.destination_samples}, and the worker regrids onto as many as were acquired",
            [*evidence[:1], f"alRegridDestSamples = {ramp.destination_samples}"],
            advice,
        )
    if measurement.protocol.trajectory != "cartesian":
        refuse(
            f"its {measurement.protocol.trajectory} readouts are ramp-sampled, and only "
            "Cartesian EPI readouts are regridded",
            [*evidence[:1], "sKSpace.ucTrajectory = radial"],
            advice,
        )
    protocol = measurement.protocol
    offcentre = float(np.max(np.abs(table["readout_offcentre"][sampled])))
    fov = protocol.fov_mm[0] * protocol.readout_oversampling
    error = offcentre_phase_error(positions, offcentre, fov)
    if error > OFFCENTRE_PHASE_LIMIT:
        refuse(
            f"its ramp-sampled readouts are shifted {offcentre:.3g} mm off-centre along the "
            "readout, which the scanner demodulates at the flat top's frequency; the worker "
            f"does not undo that on the ramps (up to {error:.2f} rad)",
            [*evidence[:1], f"ReadOutOffcentre = {offcentre:.3g} mm in the scan headers"],
            "centre the field of view along the readout (shift it along the phase-encoding "
            "direction instead), or reconstruct it on the scanner",
        )
    supported = supported_columns(positions)
    columns = protocol.matrix[0]
    if supported < columns:
        refuse(
            f"its ramp-sampled readouts resolve {supported} columns, fewer than the "
            f"{columns} of the image, so the image would alias",
            [*evidence, f"sKSpace.lBaseResolution = {columns}"],
            "raise the readout oversampling or lower the ramp sampling in the protocol",
        )


def _refuse_epi(
    measurement: RawMeasurement, counts: dict[Flag, int], method: Method | None, refuse: Refuse
) -> None:
    protocol = measurement.protocol
    table = measurement.readouts
    navigator = has_flag(table, Flag.PHASCOR)
    reflect = has_flag(table, Flag.REFLECT)
    scans = imaging(table)
    evidence = [
        f"sFastImaging.lEPIFactor = {protocol.epi_factor}",
        f"{counts[Flag.PHASCOR]} readouts flagged PHASCOR",
        f"{int((scans & reflect).sum())} imaging readouts flagged REFLECT",
    ]
    epi_advice = "reconstruct this EPI on the scanner"
    if not navigator.any():
        refuse(
            "it is an EPI without PHASCOR navigators, so the odd/even echo phase cannot be "
            "corrected and N/2 ghosts would remain",
            evidence,
            "export the raw data with its phase-correction scans",
        )
    if not (scans & reflect).any():
        refuse(
            "it holds PHASCOR navigator lines, but its imaging readouts alternate no "
            "polarity (no REFLECT), and the worker uses them for EPI only",
            evidence,
            "reconstruct it on the scanner",
        )
    if protocol.dimension == 3:
        refuse("it is a 3D EPI, and EPI is reconstructed in 2D only", evidence, epi_advice)
    checks = (
        (
            protocol.segments > 1,
            "segmented (multi-shot) EPI, whose shots one phase correction per slice would mix",
            f"sFastImaging.lSegments = {protocol.segments}",
        ),
        (
            len(protocol.te_ms) > 1 or np.unique(table["eco"][scans]).size > 1,
            "multi-echo EPI, whose echoes one phase correction per slice would mix",
            f"lContrasts = {len(protocol.te_ms)}",
        ),
        (
            protocol.multiband > 1,
            "simultaneous multi-slice EPI, whose collapsed slices are not separated",
            f"sSliceAcceleration.lMultiBandFactor = {protocol.multiband}",
        ),
        (
            protocol.acceleration != (1, 1) or counts[Flag.PATREFSCAN] > 0,
            "parallel-imaging (iPAT) EPI, whose skipped lines and phase-corrected "
            "reference scans no built-in mode reconstructs",
            f"sPat.lAccelFactPE = {protocol.acceleration[0]}, {counts[Flag.PATREFSCAN]} readouts "
            "flagged PATREFSCAN",
        ),
    )
    for found, kind, value in checks:
        if found:
            refuse(f"it is a {kind}", [*evidence, value], epi_advice)
    for counter in np.unique(table["sli"][scans]):
        in_slice = table["sli"] == counter
        if not ((in_slice & navigator & reflect).any() and (in_slice & navigator & ~reflect).any()):
            refuse(
                f"slice {int(counter)} lacks PHASCOR navigators of both polarities",
                evidence,
                "export the raw data with its phase-correction scans",
            )
    if method not in (None, "cartesian"):
        refuse(
            f"it is an EPI, which the {method} reconstruction does not phase-correct",
            evidence,
            "choose a Cartesian mode (yc_cartesian or yc_cartesian_adaptive)",
        )


def _refuse_mixing(measurement: RawMeasurement, refuse: Refuse) -> None:
    """Imaging readouts of one place that only their segment counter tells apart.

    The sorter separates lines, partitions, slices, echoes, phases,
    repetitions, sets and averages; readouts that share all of these are
    averaged, which is wrong where they are different segments (shots).
    """
    table = measurement.readouts
    scans = table[imaging(table)]
    keys = ("lin", "par", "sli", "eco", "phs", "rep", "set", "ave")
    place = np.stack([scans[key] for key in keys], axis=1)
    places, index = np.unique(place, axis=0, return_inverse=True)
    pairs = np.unique(np.stack([index.reshape(-1), scans["seg"]], axis=1), axis=0)
    segments_per_place = np.bincount(pairs[:, 0], minlength=len(places))
    if (segments_per_place > 1).any():
        at = places[int(np.flatnonzero(segments_per_place > 1)[0])]
        same = (place == at).all(axis=1)
        lin, par, sli = (int(v) for v in at[:3])
        refuse(
            "several imaging readouts share one line, slice, echo, repetition and average "
            "and differ only in their segment, so they would be mixed into one",
            [
                f"{int(same.sum())} readouts at Lin {lin}, Sli {sli}, Par {par}",
                f"their Seg counters {np.unique(scans['seg'][same]).tolist()}",
                f"sFastImaging.lSegments = {measurement.protocol.segments}",
            ],
            "reconstruct this segmented acquisition on the scanner",
        )

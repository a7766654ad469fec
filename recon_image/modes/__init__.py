"""Yarra modes: ``.mode`` files, their macros, the runner that executes their steps.

A mode names the programs that turn a task's raw data into DICOM images:
``[PreProcessing]``, ``[Reconstruction]`` and ``[PostProcessing]`` steps, each a
``Bin``/``Args`` pair. Our own reconstructions are built-in programs a mode names
(``yc-cartesian``); any other ``Bin`` is an executable, so an existing Yarra mode
runs unchanged.
"""

"""The Cartesian reconstruction pipeline: one step a module, FFTs on planned FFTW objects."""

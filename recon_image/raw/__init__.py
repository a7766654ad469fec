"""Raw data readers: Siemens TWIX (VB, VD/VE/XA) and ISMRMRD/MRD, all into one k-space model."""

"""3DMM fitting: the Deep3DFace R-Net and the optimisation fitter, per clip."""

"""Deep3DFace camera constants shared by the face model, the renderer and the alignment.

The face sits at the world origin facing +z (y up, x to the image right); the camera is at
(0, 0, CAMERA_DISTANCE) looking down -z. A render at size S uses focal ``FOCAL * S / RASTER_SIZE``
and centre ``S / 2``, i.e. the same field of view 2*atan(112/1015) = 12.59 degrees.
"""

from __future__ import annotations

FOCAL = 1015.0  # pixels, for the 224 px aligned crop
CENTER = 112.0  # pixels, principal point of the 224 px crop (both axes)
CAMERA_DISTANCE = 10.0  # decimetres from the world origin to the camera along +z
ZNEAR = 5.0  # decimetres, near clipping plane of the renderer
ZFAR = 15.0  # decimetres, far clipping plane of the renderer
RASTER_SIZE = 224  # pixels, side of the aligned crop the coefficients are defined on
RESCALE_FACTOR = 102.0  # align_img scale: ~FOCAL / CAMERA_DISTANCE pixels per decimetre

# The five standard 3D points of the BFM09 mean face (decimetres; left eye, right eye, nose tip,
# left mouth corner, right mouth corner, image-left first), as Deep3DFace's `load_lm3d` builds them
# from `similarity_Lm3D_all.mat`. POS alignment fits the 5 detected points to these.
LM3D_5 = (
    (-0.3115, 0.2904, 0.1338),
    (0.3098, 0.2897, 0.1318),
    (0.0033, -0.0462, 0.5524),
    (-0.2522, -0.3813, 0.2241),
    (0.2485, -0.3813, 0.2224),
)

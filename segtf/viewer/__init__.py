"""Logic behind the Streamlit viewer (`apps/viewer.py`), kept free of Streamlit so it is testable.

- `gallery`: finds the example images (bundled ones, CamVid val when present).
- `models`: lists the model folders of a zoo directory and summarises their cards.
- `legend`: per-class pixel shares, the legend and the CSV download.
- `compose`: colour masks, checkerboard and background compositing, PNG encoding.
- `inputs`: checks uploads (size, format, pixels) with messages a user can act on.
"""

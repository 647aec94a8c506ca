"""Building real OCI images from real packages (demo, benchmark, runtime fixtures).

``layerdiff`` turns two states of a root filesystem into one layer tar;
``debs``, ``wheels`` and ``chroot`` produce those states; ``flavours`` holds the
recipes that ``tasks/build_image.py`` runs.
"""

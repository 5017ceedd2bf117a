"""The raw archive: its layout contract, the build dispatch, the sources and the catalogues."""

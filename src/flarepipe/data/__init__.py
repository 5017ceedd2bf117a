"""Model inputs: features, standardisation, HDF5 shards (the only h5py user), datasets."""

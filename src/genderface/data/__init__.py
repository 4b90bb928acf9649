"""The data stages: a source into data/raw, what is usable, the leak-free split, the face finder,
the TFRecord shards, and tf.data over them."""

"""Problems to train on, each with its data, model and a one-call training helper."""

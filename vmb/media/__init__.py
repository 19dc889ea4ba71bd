"""Media I/O: probe files, read video frames, images and audio, write wav, mux music onto video."""

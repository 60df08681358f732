"""Reading TFLite flatbuffers and running them through the real TFLM interpreter on the host."""

"""Using a trained run outside training: prediction (:mod:`.predict`, :mod:`.inputs`), exports to the formats
people deploy (:mod:`.formats`: ONNX, TorchScript, Hugging Face, safetensors), model cards (:mod:`.card`),
compression (:mod:`.compress`) and the long-lived prediction server the dashboard talks to (:mod:`.server`,
:mod:`.client`)."""

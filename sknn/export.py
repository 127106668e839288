"""Export fitted sknn estimators: ONNX, ``torch.export``, or one PyTorch module.

See :func:`to_onnx` for what the exported graph includes.
"""

from sknn._lifecycle._export import inference_model, prepare_input, to_onnx, to_torch_export

__all__ = ["inference_model", "prepare_input", "to_onnx", "to_torch_export"]

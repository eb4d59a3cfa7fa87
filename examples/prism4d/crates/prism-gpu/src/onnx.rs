//! Mapping from ONNX operators to Prism4D kernels (feature `onnx`).

/// The kernel entry point that implements an ONNX operator, if any.
pub fn kernel_for_op(op_type: &str) -> Option<&'static str> {
    match op_type {
        "Add" | "Axpy" => Some("saxpy"),
        "ReduceSum" => Some("reduce_sum"),
        "Conv" => Some("stencil3"),
        _ => None,
    }
}

/// Operators of a graph (one `op_type` per line, `#` comments) that have no kernel.
pub fn unsupported_ops(graph: &str) -> Vec<String> {
    graph
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|op| !op.is_empty() && kernel_for_op(op).is_none())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ops_map_to_kernels() {
        assert_eq!(kernel_for_op("Add"), Some("saxpy"));
        assert_eq!(kernel_for_op("ReduceSum"), Some("reduce_sum"));
        assert_eq!(kernel_for_op("Softmax"), None);
    }

    #[test]
    fn reports_unsupported_ops() {
        let graph = "Add\n# comment\nSoftmax  # not yet\n\nConv\nGemm\n";
        assert_eq!(unsupported_ops(graph), ["Softmax", "Gemm"]);
    }
}

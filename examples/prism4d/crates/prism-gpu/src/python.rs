//! Helpers for the Python bindings (feature `python`): buffer-protocol descriptions.

/// Python buffer-protocol format character for `f32`.
pub const F32_FORMAT: &str = "f";

/// Shape and strides (in bytes) of a C-contiguous `f32` array.
pub fn contiguous_layout(shape: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let mut strides = vec![0; shape.len()];
    let mut stride = std::mem::size_of::<f32>();
    for (dim, s) in shape.iter().zip(strides.iter_mut()).rev() {
        *s = stride;
        stride *= *dim;
    }
    (shape.to_vec(), strides)
}

/// `repr()` of a list of floats, as Python prints it.
pub fn list_repr(values: &[f32]) -> String {
    let items: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_are_c_order() {
        let (shape, strides) = contiguous_layout(&[2, 3, 4]);
        assert_eq!(shape, [2, 3, 4]);
        assert_eq!(strides, [48, 16, 4]);
        assert_eq!(F32_FORMAT, "f");
    }

    #[test]
    fn list_repr_looks_like_python() {
        assert_eq!(list_repr(&[1.0, 2.5]), "[1.0, 2.5]");
        assert_eq!(list_repr(&[]), "[]");
    }
}

//! What kind of network a stack of dense layers is: the one place that tells an SLP from an
//! MLP, and the article's two networks from the rest.

/// The one notion of what kind of network a stack of dense layers is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelKind {
    /// A single-layer perceptron: the inputs feed the output layer directly.
    Slp,
    /// A multi-layer perceptron: one or more hidden layers.
    Mlp,
}

impl ModelKind {
    /// The kind of a network with these layer widths, input to output.
    pub fn of_widths(widths: &[usize]) -> Self {
        Self::of_hidden_layers(widths.len().saturating_sub(2))
    }

    /// The kind of a network with `hidden` hidden layers.
    pub fn of_hidden_layers(hidden: usize) -> Self {
        if hidden == 0 { Self::Slp } else { Self::Mlp }
    }

    /// The article's own networks, 784-10 and 784-128-10, for which TensorFlow reference
    /// results exist; any other widths are neither.
    pub fn article(widths: &[usize]) -> Option<Self> {
        match widths {
            [784, 10] => Some(Self::Slp),
            [784, 128, 10] => Some(Self::Mlp),
            _ => None,
        }
    }

    /// "slp", "mlp": file and folder names.
    pub fn name(self) -> &'static str {
        match self {
            Self::Slp => "slp",
            Self::Mlp => "mlp",
        }
    }

    /// "SLP", "MLP": titles.
    pub fn title(self) -> &'static str {
        match self {
            Self::Slp => "SLP",
            Self::Mlp => "MLP",
        }
    }
}

//! The one place where a compute backend is chosen and its device created.

use std::fmt;

use anyhow::{Result, anyhow};
use burn::tensor::{Device, DeviceKind};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BackendName {
    /// Burn's pure-Rust CPU backend.
    #[default]
    Flex,
    /// The ndarray CPU backend (deprecated in Burn 0.22, kept for comparison).
    Ndarray,
    /// A GPU, or a CPU Vulkan driver, through wgpu.
    Wgpu,
}

impl fmt::Display for BackendName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendName::Flex => "flex",
            BackendName::Ndarray => "ndarray",
            BackendName::Wgpu => "wgpu",
        })
    }
}

/// The largest tensor, in bytes, to put in one device buffer: wgpu's default limit on a
/// storage buffer binding is 128 MiB, less than MNIST's 184 MB of training pixels.
pub fn max_tensor_bytes(name: BackendName) -> Option<usize> {
    match name {
        BackendName::Wgpu => Some(64 << 20),
        BackendName::Flex | BackendName::Ndarray => None,
    }
}

/// Creates the (non-autodiff) device for a backend. Burn's `Device::default()` would prefer
/// wgpu when it is compiled in, so the CPU devices are always constructed explicitly.
pub fn device(name: BackendName) -> Result<Device> {
    match name {
        BackendName::Flex => Ok(Device::flex()),
        #[allow(deprecated)]
        BackendName::Ndarray => Ok(Device::ndarray()),
        BackendName::Wgpu => wgpu_device(),
    }
}

/// wgpu panics in a worker thread when no adapter exists, so the adapter is acquired through
/// the fallible initialiser first.
fn wgpu_device() -> Result<Device> {
    Device::wgpu_options()
        .device_kind(DeviceKind::DefaultDevice)
        .init()
        .map_err(|e| {
            let reason = e.to_string().replace('\n', " ");
            anyhow!(
                "backend wgpu is unavailable here ({reason}); use --backend flex or --backend ndarray \
                 (CPU), or install a GPU driver or Debian's mesa-vulkan-drivers"
            )
        })
}

//! The one place where a compute backend is chosen and its device created.

use anyhow::{Result, anyhow};
use burn::tensor::Device;

pub use crate::core::config::BackendName;
use crate::core::metrics::Adapter;

/// Where a data set waits for its batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// In the host's memory, each batch copied out of the set the run already holds: the
    /// CPU backends, for which an upload would only hold the images twice.
    Host,
    /// Uploaded to the device once, in parts of at most `max_tensor_bytes` where the backend
    /// limits a buffer's size.
    Device { max_tensor_bytes: Option<usize> },
}

/// Where `name`'s training data live. wgpu's default limit on a storage buffer binding is
/// 128 MiB, less than MNIST's 184 MB of training pixels.
pub fn placement(name: BackendName) -> Placement {
    match name {
        BackendName::Wgpu => Placement::Device {
            max_tensor_bytes: Some(64 << 20),
        },
        BackendName::Flex | BackendName::Ndarray => Placement::Host,
    }
}

/// The instruction set the `gemm` crate picks at run time for the CPU backends' matrix
/// products (Burn flex's, and the host analysis's); `None` for wgpu. Its AVX-512 kernels are
/// compiled in (Cargo.toml) and sum in another order than the AVX2 ones.
pub fn cpu_kernels(name: BackendName) -> Option<&'static str> {
    if name == BackendName::Wgpu {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Some("AVX-512");
        }
        if std::arch::is_x86_feature_detected!("fma") {
            return Some("AVX2 (FMA)");
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            return Some("NEON");
        }
    }
    Some("portable")
}

/// A backend's device, with the adapter behind it where the backend has one (wgpu).
pub struct Opened {
    pub device: Device,
    pub adapter: Option<Adapter>,
}

impl Opened {
    /// The line that names the adapter, for wgpu: `wgpu: llvmpipe (…), CPU, Vulkan`.
    pub(crate) fn announcement(&self) -> Option<String> {
        self.adapter
            .as_ref()
            .map(|a| format!("wgpu: {}", a.describe()))
    }

    /// A warning where the adapter is a software one, which the CPU backends outrun by orders
    /// of magnitude.
    pub fn warning(&self) -> Option<&'static str> {
        self.adapter.as_ref().filter(|a| a.is_software()).map(|_| {
            "warning: wgpu found only a software adapter, far slower than the CPU backends \
             (an SLP epoch took 13.1 s on llvmpipe against 0.05 s on flex); use --backend flex \
             unless you are testing wgpu itself"
        })
    }
}

/// Creates the (non-autodiff) device for a backend. Burn's `Device::default()` would prefer
/// wgpu when it is compiled in, so the CPU devices are always constructed explicitly.
pub fn device(name: BackendName) -> Result<Device> {
    open(name).map(|opened| opened.device)
}

/// Like [`device`], also naming the adapter behind a wgpu device.
pub fn open(name: BackendName) -> Result<Opened> {
    match name {
        BackendName::Flex => Ok(Opened {
            device: Device::flex(),
            adapter: None,
        }),
        #[allow(deprecated)]
        BackendName::Ndarray => Ok(Opened {
            device: Device::ndarray(),
            adapter: None,
        }),
        BackendName::Wgpu => wgpu_device(),
    }
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Opened> {
    Err(anyhow!(
        "backend wgpu is not in this build of weightscope (built with --no-default-features): \
         use --backend flex or --backend ndarray, or rebuild with the default features"
    ))
}

/// wgpu panics in a worker thread when no adapter exists, so the adapter is acquired through
/// the fallible initialiser first. The runtime can be initialised once per process; later
/// calls reuse the device it registered.
#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Opened> {
    use std::sync::Mutex;
    // Held while the runtime initialises, so two threads asking at once (tests do) cannot both
    // try: the second would find the runtime registered and fail.
    static OPENED: Mutex<Option<(Device, Adapter)>> = Mutex::new(None);
    let mut opened = OPENED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((device, adapter)) = opened.as_ref() {
        return Ok(Opened {
            device: device.clone(),
            adapter: Some(adapter.clone()),
        });
    }
    let (device, setup) = Device::wgpu_options()
        .device_kind(burn::tensor::DeviceKind::DefaultDevice)
        .init_with_setup()
        .map_err(|e| {
            let reason = e.to_string().replace('\n', " ");
            anyhow!(
                "backend wgpu is unavailable here ({reason}); use --backend flex or --backend ndarray \
                 (CPU), or install a GPU driver or Debian's mesa-vulkan-drivers"
            )
        })?;
    let info = setup.adapter.get_info();
    let adapter = Adapter {
        name: info.name,
        kind: device_kind_name(info.device_type).into(),
        api: format!("{:?}", info.backend),
        driver: [info.driver, info.driver_info]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
    };
    *opened = Some((device.clone(), adapter.clone()));
    Ok(Opened {
        device,
        adapter: Some(adapter),
    })
}

#[cfg(feature = "wgpu")]
fn device_kind_name(kind: burn::tensor::wgpu::wgpu::DeviceType) -> &'static str {
    use burn::tensor::wgpu::wgpu::DeviceType;
    match kind {
        DeviceType::DiscreteGpu => "discrete GPU",
        DeviceType::IntegratedGpu => "integrated GPU",
        DeviceType::VirtualGpu => "virtual GPU",
        DeviceType::Cpu => "CPU",
        DeviceType::Other => "other",
    }
}

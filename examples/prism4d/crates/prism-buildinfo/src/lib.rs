//! Build metadata for build scripts: read Cargo's build-script environment and
//! turn it into `cargo:rustc-env` lines for the crate being built.

use std::collections::BTreeMap;

/// Build facts collected from the build-script environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    pub target: String,
    pub profile: String,
    pub features: Vec<String>,
}

impl BuildInfo {
    /// From a lookup function (`std::env::var` in a build script; a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            target: lookup("TARGET").unwrap_or_else(|| "unknown".into()),
            profile: lookup("PROFILE").unwrap_or_else(|| "unknown".into()),
            features: Vec::new(),
        }
    }

    /// From the environment of a running build script, including enabled features.
    pub fn from_env() -> Self {
        let mut info = Self::from_lookup(|k| std::env::var(k).ok());
        info.features = features_from_vars(std::env::vars());
        info
    }

    /// One line for a version banner.
    pub fn summary(&self) -> String {
        let features = if self.features.is_empty() {
            "none".to_string()
        } else {
            self.features.join(",")
        };
        format!(
            "target {}, profile {}, features {}",
            self.target, self.profile, features
        )
    }

    /// The `cargo:rustc-env=...` lines a build script prints.
    pub fn rustc_env_lines(&self) -> Vec<String> {
        let vars: BTreeMap<&str, String> = [
            ("PRISM_BUILD_TARGET", self.target.clone()),
            ("PRISM_BUILD_PROFILE", self.profile.clone()),
            ("PRISM_BUILD_SUMMARY", self.summary()),
        ]
        .into_iter()
        .collect();
        vars.into_iter()
            .map(|(k, v)| format!("cargo:rustc-env={k}={v}"))
            .collect()
    }

    /// Print the lines; call from `build.rs`.
    pub fn emit(&self) {
        for line in self.rustc_env_lines() {
            println!("{line}");
        }
    }
}

/// Feature names from `CARGO_FEATURE_*` variables, lower-case with `-`, sorted.
pub fn features_from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let mut features: Vec<String> = vars
        .into_iter()
        .filter_map(|(k, _)| {
            k.strip_prefix("CARGO_FEATURE_")
                .map(|f| f.to_lowercase().replace('_', "-"))
        })
        .collect();
    features.sort();
    features
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_summary() {
        let info = BuildInfo::from_lookup(|k| match k {
            "TARGET" => Some("x86_64-unknown-linux-gnu".into()),
            "PROFILE" => Some("debug".into()),
            _ => None,
        });
        assert_eq!(
            info.summary(),
            "target x86_64-unknown-linux-gnu, profile debug, features none"
        );
        let lines = info.rustc_env_lines();
        assert_eq!(lines[0], "cargo:rustc-env=PRISM_BUILD_PROFILE=debug");
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn features_are_normalised() {
        let vars = [
            ("CARGO_FEATURE_GPU".to_string(), "1".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
            ("CARGO_FEATURE_DEFAULT".to_string(), "1".to_string()),
        ];
        assert_eq!(features_from_vars(vars), ["default", "gpu"]);
    }

    #[test]
    fn missing_vars_are_unknown() {
        let info = BuildInfo::from_lookup(|_| None);
        assert_eq!(info.target, "unknown");
    }
}

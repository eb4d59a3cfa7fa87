fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    prism_buildinfo::BuildInfo::from_env().emit();
}

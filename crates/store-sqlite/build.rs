// `sqlx::migrate!` embeds the migrations when this crate compiles; without
// this, a migration added later would not be seen until some source file
// here changed.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

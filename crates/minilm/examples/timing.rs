fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("model dir"));
    let t = std::time::Instant::now();
    let m = minilm::Model::load(
        &std::fs::read(dir.join("model.safetensors")).unwrap(),
        &std::fs::read_to_string(dir.join("vocab.txt")).unwrap(),
    )
    .unwrap();
    println!("load {:?}", t.elapsed());
    for text in [
        "Create a new branch in a local git repository",
        "what time is it in Tokyo?",
        "Don't re-use e-mail addresses (CO2 émission)",
    ] {
        let v = m.embed(text);
        println!("{text:?} {:?} {:?}", m.tokens(text, 256), &v[..6]);
    }
    let long = "Read the complete contents of a file from the file system as text. Handles various text encodings and provides detailed error messages if the file cannot be read. Use this tool when you need to examine the contents of a single file. Use the 'head' parameter to read only the first N lines of a file, or the 'tail' parameter to read only the last N lines of a file.";
    for (name, text) in [
        (
            "query 11 tokens",
            "create a new branch in my github repository",
        ),
        ("tool ~90 tokens", long),
    ] {
        let n = 20;
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(m.embed(text));
        }
        println!(
            "{name}: {} tokens, {:?} per embedding",
            m.tokens(text, 256).len(),
            t.elapsed() / n
        );
    }
}

//! reactor-chat-bench: load clients for reactor-chat. (Being written.)
fn main() {
    eprintln!("reactor-chat-bench is not built yet");
    std::process::exit(2);
}

//! Placeholder until the graph module lands.
use super::Lang;
use super::definition::Definition;
pub fn mermaid(def: &Definition, _lang: Lang) -> String {
    format!("stateDiagram-v2\n    [*] --> {}\n", def.initial)
}

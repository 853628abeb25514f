//! The item registry: definition files are checked, stored as versions, and served from memory.
//!
//! Policy: at start every file in `seeds/items` is parsed and checked; any bad file stops the
//! start with its name and the offending place. A file whose content changed becomes a new
//! version; filings keep the version they started under, so the registry holds every version.
//! Several instances may load at once: an advisory lock serialises version numbering.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, RwLock};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::domain::check;
use crate::domain::definition::Definition;
use crate::repo::items::{self, NewItemVersion};

/// One stored version of an item.
#[derive(Debug)]
pub struct Item {
    pub id: i32,
    pub version: i32,
    pub digest: String,
    pub def: Definition,
    /// The version's spot-check draw, read from `def`'s settings when it was registered
    /// (`services::draw::of_item`).
    pub(crate) draw: Option<crate::services::draw::ItemDraw>,
}

#[derive(Debug, Default)]
pub struct Registry {
    by_id: RwLock<HashMap<i32, Arc<Item>>>,
    latest: RwLock<BTreeMap<String, Arc<Item>>>,
}

/// A region's rule set (`seeds/rules/<name>.toml`): values for the settings of some items (a
/// province's thresholds, a city's consent shares and notice length), by item code.
#[derive(Debug, Default, Clone)]
pub struct Rules {
    /// The file's name without `.toml`; empty for none.
    pub name: String,
    pub items: BTreeMap<String, toml_edit::Table>,
}

impl Rules {
    /// The rule set `name` under `dir` (`""`: none). An unknown name, or a rule set for an
    /// item that does not exist, stops the start.
    pub fn load(dir: &Path, name: &str) -> anyhow::Result<Rules> {
        if name.trim().is_empty() {
            return Ok(Rules::default());
        }
        let path = dir.join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("authority.rules = {name:?}: reading {}", path.display()))?;
        let doc: toml_edit::DocumentMut = text
            .parse()
            .with_context(|| format!("{}: not TOML", path.display()))?;
        let mut items = BTreeMap::new();
        if let Some(t) = doc.get("items").and_then(toml_edit::Item::as_table) {
            for (code, rules) in t.iter() {
                let table = rules.as_table().with_context(|| {
                    format!(
                        "{}: [items.{code}] must be a table of settings",
                        path.display()
                    )
                })?;
                items.insert(code.to_owned(), table.clone());
            }
        }
        Ok(Rules {
            name: name.to_owned(),
            items,
        })
    }
}

/// Parse and check every `*.toml` in a folder, with the region's rules for each item; all
/// errors of all files are reported together. Each definition comes with the text it was read
/// from once its setting references were resolved: what a stored version is made of.
pub fn read_dir(dir: &Path, rules: &Rules) -> anyhow::Result<Vec<(Definition, String)>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading item definitions from {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let name = path.display().to_string();
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        match check::parse_with(&name, &text, rules.items.get(stem)) {
            Ok((def, resolved)) => {
                if def.code != stem {
                    errors.push(format!(
                        "{name}: code `{}` must equal the file name `{stem}`",
                        def.code
                    ));
                } else {
                    out.push((def, resolved));
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    for code in rules.items.keys() {
        if !out.iter().any(|(d, _)| &d.code == code) && errors.iter().all(|e| !e.contains(code)) {
            errors.push(format!(
                "rules {:?}: [items.{code}] names no item of {}",
                rules.name,
                dir.display()
            ));
        }
    }
    if !errors.is_empty() {
        bail!("bad item definitions:\n{}", errors.join("\n"));
    }
    Ok(out)
}

pub fn digest(source: &str) -> String {
    hex::encode(Sha256::digest(source.as_bytes()))
}

impl Registry {
    /// Store new versions of changed files, then load every stored version.
    pub fn sync(
        conn: &mut PgConnection,
        dir: &Path,
        rules: &Rules,
        departments: &[String],
        now: DateTime<Utc>,
    ) -> anyhow::Result<Self> {
        let defs = read_dir(dir, rules)?;
        let mut missing = Vec::new();
        for (def, _) in &defs {
            let mut used: Vec<&str> = vec![def.department.as_str()];
            for s in &def.states {
                used.extend(s.department.as_deref());
                if let Some(p) = &s.parallel {
                    used.extend(p.tasks.iter().map(|t| t.department.as_str()));
                }
            }
            for d in used {
                if !departments.iter().any(|x| x == d) {
                    missing.push(format!("{}: department `{d}` does not exist", def.code));
                }
            }
        }
        if !missing.is_empty() {
            bail!(
                "item definitions refer to unknown departments:\n{}",
                missing.join("\n")
            );
        }
        conn.transaction::<_, anyhow::Error, _>(|conn| {
            items::lock_versions(conn)?;
            for (def, source) in &defs {
                let d = digest(source);
                if items::by_digest(conn, &def.code, &d)?.is_some() {
                    continue;
                }
                let version = items::latest_version(conn, &def.code)?.unwrap_or(0) + 1;
                items::insert(
                    conn,
                    &NewItemVersion {
                        code: &def.code,
                        version,
                        digest: &d,
                        source,
                        definition: serde_json::to_value(def)?,
                        loaded_at: now,
                    },
                )?;
                tracing::info!(item = %def.code, version, "stored a new item version");
            }
            Ok(())
        })?;
        let registry = Registry::default();
        registry.load_all(conn)?;
        Ok(registry)
    }

    fn load_all(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        for row in items::all(conn)? {
            self.insert(row)?;
        }
        Ok(())
    }

    fn insert(&self, row: items::ItemVersionRow) -> anyhow::Result<Arc<Item>> {
        let def = check::parse(&format!("{} v{}", row.code, row.version), &row.source)
            .map_err(|e| anyhow::anyhow!("stored definition no longer parses: {e}"))?;
        let draw = crate::services::draw::parse_draw(&def, row.version)
            .map_err(|e| anyhow::anyhow!("stored definition: {e}"))?;
        let item = Arc::new(Item {
            id: row.id,
            version: row.version,
            digest: row.digest,
            def,
            draw,
        });
        self.by_id
            .write()
            .map_err(|_| anyhow::anyhow!("registry lock poisoned"))?
            .insert(item.id, item.clone());
        let mut latest = self
            .latest
            .write()
            .map_err(|_| anyhow::anyhow!("registry lock poisoned"))?;
        if latest
            .get(&row.code)
            .is_none_or(|l| l.version < item.version)
        {
            latest.insert(row.code, item.clone());
        }
        Ok(item)
    }

    /// The version a filing runs under; loaded from the database if another instance stored it.
    pub fn by_id(&self, conn: &mut PgConnection, id: i32) -> anyhow::Result<Arc<Item>> {
        if let Some(item) = self.by_id.read().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(item);
        }
        let row =
            items::by_id(conn, id)?.with_context(|| format!("item version {id} is not stored"))?;
        self.insert(row)
    }

    /// The newest version of an item, for new filings and the catalogue.
    pub fn latest(&self, code: &str) -> Option<Arc<Item>> {
        self.latest.read().ok().and_then(|m| m.get(code).cloned())
    }

    pub fn all_latest(&self) -> Vec<Arc<Item>> {
        self.latest
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
}

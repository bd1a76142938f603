//! Field types that several resource kinds share in their YAML shape:
//! `a` or `[a, b]`, quoted octal modes, `present | absent`.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `a` or `[a, b]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(transparent)]
pub struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![s.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(OneOrMany(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A file mode. Must be a quoted string: YAML reads an unquoted 0644 as the number 644 (or 420).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ModeSpec(pub String);

impl<'de> Deserialize<'de> for ModeSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ModeSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a quoted octal mode like \"0644\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ModeSpec, E> {
                Ok(ModeSpec(s.to_string()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<ModeSpec, E> {
                Err(E::custom(format!(
                    "mode {n} is a number; write it as a quoted octal string like \"0{n}\" (YAML reads unquoted modes as decimal)"
                )))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<ModeSpec, E> {
                self.visit_u64(n.unsigned_abs())
            }
        }
        d.deserialize_any(V)
    }
}

/// `Deserialize` for a spec written either as a bare name or as a mapping
/// (`package: haproxy` or `package: { name: haproxy }`): `$map` is the strict
/// mapping shape, `$field` the field a bare name fills.
macro_rules! string_or_struct {
    ($ty:ident, $map:ident, $field:ident) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("a name or a mapping")
                    }
                    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<$ty, E> {
                        Ok($ty { $field: Some(s.to_string().into()), ..Default::default() })
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<$ty, A::Error> {
                        let m = <$map as serde::Deserialize>::deserialize(
                            serde::de::value::MapAccessDeserializer::new(map),
                        )?;
                        Ok(m.into())
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}
pub(crate) use string_or_struct;

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PresentAbsent {
    #[default]
    Present,
    Absent,
}

impl From<String> for OneOrMany {
    fn from(s: String) -> Self {
        OneOrMany(vec![s])
    }
}

pub(crate) fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_or_many_and_numeric_modes() {
        let o: OneOrMany = serde_yaml::from_str("a").unwrap();
        assert_eq!(o.0, ["a"]);
        let o: OneOrMany = serde_yaml::from_str("[a, b]").unwrap();
        assert_eq!(o.0, ["a", "b"]);
        let e = serde_yaml::from_str::<ModeSpec>("644").unwrap_err().to_string();
        assert!(e.contains("quoted octal string"), "{e}");
        // serde_yaml keeps a leading-zero scalar as the string it looks like.
        assert_eq!(serde_yaml::from_str::<ModeSpec>("0644").unwrap().0, "0644");
    }
}

//! Reading a spec whose fields may be templates, whatever their type.
//!
//! At load (`Mode::Load`) a field is checked against its type, except that a
//! templated string (`"{{ x }}"`) stands for any type: the real value is only
//! known per host. After rendering (`Mode::Rendered`) every field must have
//! its type, with the conversions a rendered value needs: a number or a bool
//! where a string is wanted is that text; a string where a bool is wanted is
//! read as Ansible reads it (`yes`, `off`, …); a string of digits where a
//! number is wanted is that number. A rendered mistake names the field's path
//! (`ports[0].host`), so the caller can point at the field in its file.
//!
//! Both are one wrapper around any `Deserializer` (serde_yaml's keeps its
//! file:line:col), which asks the inner one for a value of any type and
//! hands it on to the spec's own visitor, converted when the mode allows.

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use std::cell::RefCell;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Load,
    Rendered,
}

/// What the spec's visitor asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    Any,
    Str,
    Bool,
    U64,
    I64,
    F64,
    Seq,
    Map,
}

/// Whether `s` is (or holds) a template: its value is known only per host.
pub fn is_templated(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// Ansible's words for a boolean (`boolean()` in its module utils).
pub fn bool_word(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "y" | "t" | "1" => Some(true),
        "false" | "no" | "off" | "n" | "f" | "0" => Some(false),
        _ => None,
    }
}

/// `T` from a spec as written, a templated string standing for any type.
pub fn from_load<'de, T: de::Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    let failed = RefCell::new(None);
    T::deserialize(Typed { de: d, mode: Mode::Load, path: String::new(), failed: &failed })
}

/// A seed reading `T` as `from_load` does, for `MapAccess::next_value_seed`.
pub struct LoadSeed<T>(std::marker::PhantomData<T>);

impl<T> Default for LoadSeed<T> {
    fn default() -> Self {
        LoadSeed(std::marker::PhantomData)
    }
}

impl<'de, T: de::Deserialize<'de>> DeserializeSeed<'de> for LoadSeed<T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        from_load(d)
    }
}

/// Why a rendered spec is not of its kind's shape: the field's path and what is wrong.
#[derive(Debug)]
pub struct RenderedError {
    /// `enabled`, `ports[0].host`; empty for the spec as a whole.
    pub field: String,
    pub source: serde_json::Error,
}

/// `T` from a rendered spec, converting what a rendered value needs.
pub fn from_rendered<T: de::DeserializeOwned>(v: serde_json::Value) -> Result<T, RenderedError> {
    let failed = RefCell::new(None);
    T::deserialize(Typed { de: v, mode: Mode::Rendered, path: String::new(), failed: &failed })
        .map_err(|source| RenderedError { field: failed.take().unwrap_or_default(), source })
}

struct Typed<'a, D> {
    de: D,
    mode: Mode,
    path: String,
    /// The path of the innermost field that failed (rendered mode).
    failed: &'a RefCell<Option<String>>,
}

impl<'a, D> Typed<'a, D> {
    fn visitor<V>(&self, v: V, want: Want) -> W<'a, V> {
        W { v, want, mode: self.mode, path: self.path.clone(), failed: self.failed }
    }
}

macro_rules! want {
    ($($method:ident => $want:ident),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
            let w = self.visitor(v, Want::$want);
            self.de.deserialize_any(w)
        })*
    };
}

impl<'de, 'a, D: Deserializer<'de>> Deserializer<'de> for Typed<'a, D> {
    type Error = D::Error;

    want! {
        deserialize_any => Any, deserialize_bool => Bool,
        deserialize_u8 => U64, deserialize_u16 => U64, deserialize_u32 => U64, deserialize_u64 => U64,
        deserialize_i8 => I64, deserialize_i16 => I64, deserialize_i32 => I64, deserialize_i64 => I64,
        deserialize_f32 => F64, deserialize_f64 => F64,
        deserialize_seq => Seq, deserialize_map => Map,
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        let w = self.visitor(v, Want::Str);
        match self.mode {
            // serde_yaml reads a plain scalar (`80`, `true`) as its text when a string is wanted.
            Mode::Load => self.de.deserialize_str(w),
            Mode::Rendered => self.de.deserialize_any(w),
        }
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.deserialize_str(v)
    }
    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.deserialize_str(v)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_bytes(v)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_byte_buf(v)
    }
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        let w = self.visitor(v, Want::Any);
        self.de.deserialize_option(w)
    }
    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_unit(v)
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_unit_struct(name, v)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> Result<V::Value, D::Error> {
        let w = self.visitor(v, Want::Any);
        self.de.deserialize_newtype_struct(name, w)
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, v: V) -> Result<V::Value, D::Error> {
        self.deserialize_seq(v)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _: &'static str, _: usize, v: V) -> Result<V::Value, D::Error> {
        self.deserialize_seq(v)
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.deserialize_map(v)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        let e = EnumW { v, variants, mode: self.mode, path: self.path.clone(), failed: self.failed };
        self.de.deserialize_enum(name, variants, e)
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_identifier(v)
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_ignored_any(v)
    }
    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

/// The spec's visitor, behind the conversions of the mode.
struct W<'a, V> {
    v: V,
    want: Want,
    mode: Mode,
    path: String,
    failed: &'a RefCell<Option<String>>,
}

impl<'a, V> W<'a, V> {
    fn wrap<D>(&self, de: D) -> Typed<'a, D> {
        Typed { de, mode: self.mode, path: self.path.clone(), failed: self.failed }
    }
}

impl<'de, V: Visitor<'de>> W<'_, V> {
    /// A string where `want` asked for something else.
    fn string<E: de::Error>(self, s: &str) -> Result<V::Value, E> {
        let v = self.v;
        match (self.mode, self.want) {
            (Mode::Load, want) if is_templated(s) => match want {
                Want::Bool => v.visit_bool(false),
                Want::U64 => v.visit_u64(0),
                Want::I64 => v.visit_i64(0),
                Want::F64 => v.visit_f64(0.0),
                Want::Seq => v.visit_seq(de::value::SeqDeserializer::new(std::iter::empty::<()>())),
                Want::Map => v.visit_map(de::value::MapDeserializer::new(std::iter::empty::<((), ())>())),
                Want::Any | Want::Str => v.visit_str(s),
            },
            (Mode::Rendered, Want::Bool) if bool_word(s).is_some() => v.visit_bool(bool_word(s) == Some(true)),
            (Mode::Rendered, Want::U64) if s.trim().parse::<u64>().is_ok() => {
                v.visit_u64(s.trim().parse().unwrap_or(0))
            }
            (Mode::Rendered, Want::I64) if s.trim().parse::<i64>().is_ok() => {
                v.visit_i64(s.trim().parse().unwrap_or(0))
            }
            (Mode::Rendered, Want::F64) if s.trim().parse::<f64>().is_ok() => {
                v.visit_f64(s.trim().parse().unwrap_or(0.0))
            }
            _ => v.visit_str(s),
        }
    }

    /// Whether a scalar rendered where text is wanted becomes that text.
    fn as_text(&self) -> bool {
        self.mode == Mode::Rendered && self.want == Want::Str
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for W<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.v.expecting(f)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<V::Value, E> {
        if self.as_text() {
            return self.v.visit_string(b.to_string());
        }
        self.v.visit_bool(b)
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<V::Value, E> {
        if self.as_text() {
            return self.v.visit_string(n.to_string());
        }
        self.v.visit_i64(n)
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<V::Value, E> {
        if self.as_text() {
            return self.v.visit_string(n.to_string());
        }
        self.v.visit_u64(n)
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<V::Value, E> {
        if self.as_text() {
            return self.v.visit_string(n.to_string());
        }
        self.v.visit_f64(n)
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<V::Value, E> {
        self.string(s)
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<V::Value, E> {
        self.string(&s)
    }
    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<V::Value, E> {
        self.v.visit_bytes(b)
    }
    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.v.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        let d = self.wrap(d);
        self.v.visit_some(d)
    }
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.v.visit_unit()
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        let d = self.wrap(d);
        self.v.visit_newtype_struct(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        let s = SeqW { seq, i: 0, mode: self.mode, path: self.path, failed: self.failed };
        self.v.visit_seq(s)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let m = MapW { map, key: String::new(), mode: self.mode, path: self.path, failed: self.failed };
        self.v.visit_map(m)
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.v.visit_enum(data)
    }
}

/// A seed whose value is read through `Typed` at `path`.
struct Seed<'a, S> {
    seed: S,
    mode: Mode,
    path: String,
    failed: &'a RefCell<Option<String>>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'_, S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Typed { de: d, mode: self.mode, path: self.path, failed: self.failed })
    }
}

/// Records `path` as the failed field unless a field inside it already was.
fn record<E>(failed: &RefCell<Option<String>>, path: &str, e: E) -> E {
    failed.borrow_mut().get_or_insert_with(|| path.to_string());
    e
}

struct SeqW<'a, A> {
    seq: A,
    i: usize,
    mode: Mode,
    path: String,
    failed: &'a RefCell<Option<String>>,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for SeqW<'_, A> {
    type Error = A::Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        let path = format!("{}[{}]", self.path, self.i);
        self.i += 1;
        let seed = Seed { seed, mode: self.mode, path: path.clone(), failed: self.failed };
        self.seq.next_element_seed(seed).map_err(|e| record(self.failed, &path, e))
    }
    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

struct MapW<'a, A> {
    map: A,
    key: String,
    mode: Mode,
    path: String,
    failed: &'a RefCell<Option<String>>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for MapW<'_, A> {
    type Error = A::Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        if self.mode == Mode::Load {
            // serde_yaml names the key's path and position itself.
            return self.map.next_key_seed(seed);
        }
        let Some(key) = self.map.next_key::<String>()? else { return Ok(None) };
        self.key = key.clone();
        let path = self.path.clone();
        seed.deserialize(de::value::StringDeserializer::new(key)).map(Some).map_err(|e| record(self.failed, &path, e))
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        let path = if self.path.is_empty() { self.key.clone() } else { format!("{}.{}", self.path, self.key) };
        let seed = Seed { seed, mode: self.mode, path: path.clone(), failed: self.failed };
        self.map.next_value_seed(seed).map_err(|e| record(self.failed, &path, e))
    }
    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// An enum's visitor: a templated variant name stands for any variant at load.
struct EnumW<'a, V> {
    v: V,
    variants: &'static [&'static str],
    mode: Mode,
    path: String,
    failed: &'a RefCell<Option<String>>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for EnumW<'_, V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.v.expecting(f)
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        let ea = EnumA { data, variants: self.variants, mode: self.mode, path: self.path, failed: self.failed };
        self.v.visit_enum(ea)
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<V::Value, E> {
        // serde_json hands a unit variant over as a string.
        let name = match self.variants.first() {
            Some(first) if self.mode == Mode::Load && is_templated(s) => first,
            _ => s,
        };
        self.v.visit_enum(de::value::StrDeserializer::new(name))
    }
}

struct EnumA<'a, A> {
    data: A,
    variants: &'static [&'static str],
    mode: Mode,
    path: String,
    failed: &'a RefCell<Option<String>>,
}

impl<'de, 'a, A: EnumAccess<'de>> EnumAccess<'de> for EnumA<'a, A> {
    type Error = A::Error;
    type Variant = VariantA<'a, A::Variant>;
    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self::Variant), A::Error> {
        let seed = VariantSeed { seed, variants: self.variants, mode: self.mode };
        let (value, va) = self.data.variant_seed(seed)?;
        Ok((value, VariantA { va, mode: self.mode, path: self.path, failed: self.failed }))
    }
}

/// The variant name, replaced by the first variant when templated (at load).
struct VariantSeed<S> {
    seed: S,
    variants: &'static [&'static str],
    mode: Mode,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for VariantSeed<S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        let name = <String as de::Deserialize>::deserialize(d)?;
        let name = match self.variants.first() {
            Some(first) if self.mode == Mode::Load && is_templated(&name) => first.to_string(),
            _ => name,
        };
        self.seed.deserialize(de::value::StringDeserializer::new(name))
    }
}

struct VariantA<'a, A> {
    va: A,
    mode: Mode,
    path: String,
    failed: &'a RefCell<Option<String>>,
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for VariantA<'_, A> {
    type Error = A::Error;
    fn unit_variant(self) -> Result<(), A::Error> {
        self.va.unit_variant()
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.va.newtype_variant_seed(Seed { seed, mode: self.mode, path: self.path, failed: self.failed })
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, A::Error> {
        let w = W { v, want: Want::Seq, mode: self.mode, path: self.path, failed: self.failed };
        self.va.tuple_variant(len, w)
    }
    fn struct_variant<V: Visitor<'de>>(self, fields: &'static [&'static str], v: V) -> Result<V::Value, A::Error> {
        let w = W { v, want: Want::Map, mode: self.mode, path: self.path, failed: self.failed };
        self.va.struct_variant(fields, w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum State {
        Started,
        Stopped,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct S {
        name: String,
        #[serde(default)]
        enabled: Option<bool>,
        #[serde(default)]
        state: Option<State>,
        #[serde(default)]
        uid: Option<u32>,
        #[serde(default)]
        ports: Vec<P>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct P {
        host: u16,
    }

    fn load(y: &str) -> Result<S, String> {
        from_load(serde_yaml::Deserializer::from_str(y)).map_err(|e| e.to_string())
    }

    #[test]
    fn at_load_a_template_stands_for_any_type() {
        let s = load("{name: x, enabled: '{{ e }}', state: \"{{ s }}\", uid: '{{ u }}', ports: '{{ p }}'}").unwrap();
        assert_eq!((s.enabled, s.state, s.uid, s.ports.len()), (Some(false), Some(State::Started), Some(0), 0));
        // Plain scalars are read as serde_yaml reads them when a string is wanted.
        assert_eq!(load("{name: 80}").unwrap().name, "80");
        let e = load("{name: x, enabled: maybe}").unwrap_err();
        assert!(e.contains("enabled: invalid type: string \"maybe\", expected a boolean at line 1 column 20"), "{e}");
        let e = load("{name: x, state: running}").unwrap_err();
        assert!(e.contains("unknown variant `running`"), "{e}");
        let e = load("{name: x, sate: 1}").unwrap_err();
        assert!(e.contains("unknown field `sate`") && e.contains("line 1 column 11"), "{e}");
        let e = load("{name: x, ports: [{host: '{{ h }}', x: 1}]}").unwrap_err();
        assert!(e.contains("unknown field `x`"), "{e}");
    }

    #[test]
    fn rendered_values_are_converted_or_located() {
        let v = serde_json::json!({"name": 80, "enabled": "yes", "state": "stopped", "uid": "1000",
                                   "ports": [{"host": 1}, {"host": "2"}]});
        let s: S = from_rendered(v).unwrap();
        assert_eq!((s.name.as_str(), s.enabled, s.state, s.uid), ("80", Some(true), Some(State::Stopped), Some(1000)));
        assert_eq!(s.ports, [P { host: 1 }, P { host: 2 }]);
        let e = from_rendered::<S>(serde_json::json!({"name": "x", "enabled": "maybe"})).unwrap_err();
        assert_eq!(e.field, "enabled");
        assert!(e.source.to_string().contains("invalid type: string \"maybe\", expected a boolean"), "{}", e.source);
        let e =
            from_rendered::<S>(serde_json::json!({"name": "x", "ports": [{"host": 1}, {"host": 70000}]})).unwrap_err();
        assert_eq!(e.field, "ports[1].host");
        let e = from_rendered::<S>(serde_json::json!({"name": ["a"]})).unwrap_err();
        assert_eq!(e.field, "name");
        let e = from_rendered::<S>(serde_json::json!({"enabled": true})).unwrap_err();
        assert_eq!(e.field, "");
        assert!(e.source.to_string().contains("missing field `name`"));
    }
}

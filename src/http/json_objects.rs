//! JSON request bodies in which every struct is a JSON object.
//!
//! serde's derived `Deserialize` builds a struct from an array of its fields in order as well
//! as from an object, and serde_json feeds it either: `"voice": ["…", "wav"]` meant
//! `{"audio": "…", "encoding": "wav"}` (issue 15). Whether that form is allowed is the data
//! format's choice, so the fix is one format wrapper, [`from_slice`], used by `ApiJson` for every
//! route: it refuses an array wherever a struct (or a struct variant) is asked for, at any
//! depth, and passes everything else through unchanged (arrays asked for as sequences stay
//! arrays).
//!
//! Types serde buffers before it knows their shape (untagged and internally tagged enums) do
//! not reach the wrapper with their structs: they read their input through [`object`] (a JSON
//! object only) or [`object_or_array`] (a wrapped object or a bare list), which keep the input
//! inside it.

use std::{fmt, marker::PhantomData};

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, Error as _, MapAccess,
    SeqAccess, Unexpected, VariantAccess, Visitor,
    value::{MapAccessDeserializer, SeqAccessDeserializer},
};

/// Why a body was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Not JSON (or trailing input after it).
    Syntax,
    /// JSON of the wrong shape: the path and serde's message (`voice: invalid type: …`).
    Data(String),
}

/// Deserialize a whole body with the struct-as-array form refused; the error names the path.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(ObjectsOnly(&mut json)).map_err(|e| {
        if e.inner().is_syntax() || e.inner().is_eof() {
            BodyError::Syntax
        } else {
            BodyError::Data(e.to_string())
        }
    })?;
    json.end().map_err(|_| BodyError::Syntax)?;
    Ok(value)
}

/// `T` from a JSON object only, for a type serde buffers (an internally tagged enum reads
/// `["tag", field…]` too): `#[serde(deserialize_with = "json_objects::object")]`.
pub fn object<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: de::Deserialize<'de>,
{
    struct ObjectVisitor<T>(PhantomData<T>);
    impl<'de, T: de::Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(MapAccessDeserializer::new(map))
        }
    }
    deserializer.deserialize_map(ObjectVisitor(PhantomData))
}

/// A value given either as an object (`W`, the wrapped form) or as a bare array (`B`), read
/// without serde's untagged buffering so that both stay inside the format wrapper.
pub fn object_or_array<'de, D, W, B, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    W: de::Deserialize<'de> + Into<T>,
    B: de::Deserialize<'de> + Into<T>,
{
    struct Either<W, B, T>(PhantomData<(W, B, T)>);
    impl<'de, W, B, T> Visitor<'de> for Either<W, B, T>
    where
        W: de::Deserialize<'de> + Into<T>,
        B: de::Deserialize<'de> + Into<T>,
    {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object or array")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            W::deserialize(MapAccessDeserializer::new(map)).map(Into::into)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
            B::deserialize(SeqAccessDeserializer::new(seq)).map(Into::into)
        }
    }
    deserializer.deserialize_any(Either::<W, B, T>(PhantomData))
}

/// The format wrapper: a deserializer that hands every visitor a [`Guard`].
struct ObjectsOnly<D>(D);

/// A visitor that keeps whatever it is given inside the wrapper; `structure`: it was asked
/// for a struct, so an array is refused.
struct Guard<V> {
    inner: V,
    structure: bool,
}

fn guard<V>(inner: V) -> Guard<V> {
    Guard {
        inner,
        structure: false,
    }
}

macro_rules! forward_deserialize {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(guard(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectsOnly<D> {
    type Error = D::Error;

    forward_deserialize!(
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, guard(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, guard(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, guard(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, guard(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = Guard {
            inner: visitor,
            structure: true,
        };
        self.0.deserialize_struct(name, fields, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, guard(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident: $ty:ty)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Guard<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit!(
        visit_bool: bool visit_i8: i8 visit_i16: i16 visit_i32: i32 visit_i64: i64
        visit_i128: i128 visit_u8: u8 visit_u16: u16 visit_u32: u32 visit_u64: u64
        visit_u128: u128 visit_f32: f32 visit_f64: f64 visit_char: char visit_str: &str
        visit_borrowed_str: &'de str visit_string: String visit_bytes: &[u8]
        visit_borrowed_bytes: &'de [u8] visit_byte_buf: Vec<u8>
    );

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(ObjectsOnly(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(ObjectsOnly(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        if self.structure {
            return Err(A::Error::invalid_type(Unexpected::Seq, &Expected(&self)));
        }
        self.inner.visit_seq(Seq(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(Map(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(Enum(data))
    }
}

/// "a JSON object for struct X", from the guarded visitor's own expectation.
struct Expected<'a, V>(&'a Guard<V>);

impl<'de, V: Visitor<'de>> de::Expected for Expected<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object for ")?;
        self.0.inner.expecting(f)
    }
}

struct Seed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(ObjectsOnly(d))
    }
}

struct Seq<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<A> {
    type Error = A::Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Seed(seed))
    }
    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct Map<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<A> {
    type Error = A::Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(Seed(seed))
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Seed(seed))
    }
    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct Enum<A>(A);

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Enum<A> {
    type Error = A::Error;
    type Variant = Variant<A::Variant>;
    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        self.0
            .variant_seed(Seed(seed))
            .map(|(value, variant)| (value, Variant(variant)))
    }
}

struct Variant<A>(A);

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Variant<A> {
    type Error = A::Error;
    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Seed(seed))
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, guard(visitor))
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = Guard {
            inner: visitor,
            structure: true,
        };
        self.0.struct_variant(fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        audio: String,
        encoding: String,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        voice: Option<Inner>,
        #[serde(default)]
        list: Vec<Inner>,
        #[serde(default)]
        numbers: Vec<u32>,
    }

    fn parse(text: &str) -> Result<Outer, String> {
        from_slice::<Outer>(text.as_bytes()).map_err(|e| match e {
            BodyError::Data(text) => text,
            BodyError::Syntax => "syntax".into(),
        })
    }

    #[test]
    fn structs_only_from_objects_at_any_depth() {
        let ok = parse(
            r#"{"voice": {"audio": "a", "encoding": "wav"}, "list": [{"audio": "b",
                "encoding": "wav"}], "numbers": [1, 2]}"#,
        )
        .unwrap();
        assert_eq!(ok.voice.unwrap().audio, "a");
        assert_eq!(ok.list.len(), 1);
        assert_eq!(ok.numbers, vec![1, 2]);
        // serde_json alone accepts every one of these with the same meaning.
        for (text, path) in [
            (r#"{"voice": ["a", "wav"]}"#, "voice"),
            (r#"{"voice": null, "list": [["b", "wav"]]}"#, "list[0]"),
        ] {
            assert!(serde_json::from_str::<Outer>(text).is_ok(), "{text}");
            let err = parse(text).unwrap_err();
            assert!(err.starts_with(path), "{text}: {err}");
            assert!(err.contains("expected a JSON object"), "{text}: {err}");
        }
        // Trailing input is still refused.
        assert_eq!(parse(r#"{"voice": null} x"#).unwrap_err(), "syntax");
    }

    #[test]
    fn wrapped_or_bare_forms_keep_their_structs_objects() {
        #[derive(Debug, serde::Deserialize)]
        struct Event {
            t: u32,
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Wrapped {
            events: Vec<Event>,
        }
        struct Events(Vec<Event>);
        impl From<Wrapped> for Events {
            fn from(w: Wrapped) -> Self {
                Events(w.events)
            }
        }
        impl From<Vec<Event>> for Events {
            fn from(v: Vec<Event>) -> Self {
                Events(v)
            }
        }
        #[derive(serde::Deserialize)]
        struct Body {
            #[serde(deserialize_with = "object_or_array::<_, Wrapped, Vec<Event>, _>")]
            sample: Events,
        }
        let n = |text: &str| {
            from_slice::<Body>(text.as_bytes()).map(|b| b.sample.0.iter().map(|e| e.t).sum::<u32>())
        };
        assert_eq!(n(r#"{"sample": {"events": [{"t": 1}]}}"#).unwrap(), 1);
        assert_eq!(n(r#"{"sample": [{"t": 1}, {"t": 2}]}"#).unwrap(), 3);
        assert!(n(r#"{"sample": [[1]]}"#).is_err());
        assert!(n(r#"{"sample": {"events": [[1]]}}"#).is_err());
        assert!(n(r#"{"sample": {"events": [], "x": 1}}"#).is_err());
    }
}

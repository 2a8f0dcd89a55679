//! The post-processing `opm render` applies to every bundle it prints,
//! whatever its source (spec B.5 steps 5-6): `olm.bundle.object` and
//! `olm.csv.metadata` properties move to the end, keeping their order, and
//! relatedImages are sorted by image.

use super::declcfg::{Bundle, PROPERTY_BUNDLE_OBJECT, PROPERTY_CSV_METADATA};
use crate::encoding::json::{self, Value};

pub fn post_process(bundle: &mut Bundle) {
    move_objects_to_end(bundle);
    // Go's sort.Slice is not stable; a stable sort is one of its outcomes.
    bundle.related_images.sort_by(|left, right| left.image.cmp(&right.image));
}

/// opm's `moveBundleObjectsToEndOfPropertySlices`.
pub fn move_objects_to_end(bundle: &mut Bundle) {
    let is_object = |type_: &str| type_ == PROPERTY_BUNDLE_OBJECT || type_ == PROPERTY_CSV_METADATA;
    let (objects, others): (Vec<_>, Vec<_>) = bundle.properties.drain(..).partition(|property| is_object(&property.type_));
    bundle.properties = others;
    bundle.properties.extend(objects);
}

/// The objects a bundle carries in `olm.bundle.object` properties, decoded;
/// a value that does not decode is left out.
pub fn bundle_objects(bundle: &Bundle) -> impl Iterator<Item = Value> + '_ {
    bundle
        .properties
        .iter()
        .filter(|property| property.type_ == PROPERTY_BUNDLE_OBJECT)
        .filter_map(|property| bundle_object(&property.value))
}

/// The manifest inside an `olm.bundle.object` value `{"data": "<base64>"}`.
fn bundle_object(value: &str) -> Option<Value> {
    let value = json::parse(value).ok()?;
    let data = value.get("data")?.as_str()?;
    let bytes = crate::go::base64::decode(data).ok()?;
    json::parse(&String::from_utf8_lossy(&bytes)).ok()
}

/// The bundle's ClusterServiceVersion among its `olm.bundle.object`
/// properties: the last one, as opm's `CsvJSON` keeps the last it sees.
pub fn bundle_csv(bundle: &Bundle) -> Option<Value> {
    bundle_objects(bundle)
        .filter(|object| object.get("kind").and_then(Value::as_str) == Some("ClusterServiceVersion"))
        .last()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fbc::Property;

    fn object_property(data: &str) -> Property {
        Property {
            type_: PROPERTY_BUNDLE_OBJECT.to_string(),
            value: format!(r#"{{"data":"{data}"}}"#),
        }
    }

    /// Two CSVs among the objects: the last wins, as in opm's `CsvJSON`;
    /// base64 follows Go's rule (`\r` and `\n` ignored) everywhere.
    #[test]
    fn the_bundle_csv_is_the_last_csv_object() {
        // {"kind":"ClusterServiceVersion","n":1} and ...2, the second with a
        // line break inside its base64 text.
        let first = "eyJraW5kIjoiQ2x1c3RlclNlcnZpY2VWZXJzaW9uIiwibiI6MX0=";
        let second = "eyJraW5kIjoiQ2x1c3RlclNlcnZpY2VW\\nZXJzaW9uIiwibiI6Mn0=";
        let bundle = Bundle {
            properties: vec![object_property(first), object_property("not base64!"), object_property(second)],
            ..Bundle::default()
        };
        assert_eq!(bundle_objects(&bundle).count(), 2);
        let csv = bundle_csv(&bundle).unwrap();
        assert_eq!(json::to_compact(&csv, false), r#"{"kind":"ClusterServiceVersion","n":2}"#);
    }
}

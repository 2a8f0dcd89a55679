//! The post-processing `opm render` applies to every bundle it prints,
//! whatever its source (spec B.5 steps 5-6): `olm.bundle.object` and
//! `olm.csv.metadata` properties move to the end, keeping their order, and
//! relatedImages are sorted by image.

use base64::Engine as _;

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

/// The objects a bundle carries in `olm.bundle.object` properties, decoded.
pub fn bundle_objects(bundle: &Bundle) -> Vec<Value> {
    bundle
        .properties
        .iter()
        .filter(|property| property.type_ == PROPERTY_BUNDLE_OBJECT)
        .filter_map(|property| {
            let value = json::parse(&property.value).ok()?;
            let data = value.get("data")?.as_str()?;
            let bytes = base64::engine::general_purpose::STANDARD.decode(data).ok()?;
            json::parse(std::str::from_utf8(&bytes).ok()?).ok()
        })
        .collect()
}

/// The bundle's ClusterServiceVersion, from its `olm.bundle.object` properties.
pub fn bundle_csv(bundle: &Bundle) -> Option<Value> {
    bundle_objects(bundle)
        .into_iter()
        .find(|object| object.get("kind").and_then(Value::as_str) == Some("ClusterServiceVersion"))
}

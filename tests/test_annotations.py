"""Tests of data_readers.annotations: ASAP XML and QuPath GeoJSON reading, checks, rasterising."""

import json

import numpy as np
import pytest

from data_readers import annotations

ASAP = """<?xml version="1.0"?>
<ASAP_Annotations>
  <Annotations>
    <Annotation Name="Annotation 0" Type="Polygon" PartOfGroup="_0" Color="#F4FA58">
      <Coordinates>
        <Coordinate Order="2" X="30" Y="30"/>
        <Coordinate Order="0" X="10" Y="10"/>
        <Coordinate Order="1" X="30,5" Y="10"/>
        <Coordinate Order="3" X="10" Y="30"/>
      </Coordinates>
    </Annotation>
    <Annotation Name="Annotation 1" Type="Rectangle" PartOfGroup="_2" Color="#F4FA58">
      <Coordinates>
        <Coordinate Order="0" X="12" Y="12"/><Coordinate Order="1" X="14" Y="12"/>
        <Coordinate Order="2" X="14" Y="14"/><Coordinate Order="3" X="12" Y="14"/>
      </Coordinates>
    </Annotation>
    <Annotation Name="Cell" Type="Dot" PartOfGroup="_0"><Coordinates><Coordinate Order="0" X="1" Y="1"/></Coordinates></Annotation>
    <Annotation Name="Stroma" Type="Polygon" PartOfGroup="stroma">
      <Coordinates>
        <Coordinate Order="0" X="0" Y="0"/><Coordinate Order="1" X="5" Y="0"/><Coordinate Order="2" X="5" Y="5"/>
      </Coordinates>
    </Annotation>
  </Annotations>
  <AnnotationGroups><Group Name="_0" PartOfGroup="None"/></AnnotationGroups>
</ASAP_Annotations>
"""


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_read_asap_xml_orders_vertices_maps_groups_and_skips_dots(tmp_path):
    path = _write(tmp_path / "a.xml", ASAP)
    result = annotations.read_asap_xml(path)
    assert [a.name for a in result] == ["Annotation 0", "Annotation 1", "Stroma"]
    assert [a.group for a in result] == ["_0", "_2", "stroma"]
    assert [a.label for a in result] == ["tumor", "exclude", None]
    exterior, holes = result[0].polygons[0]
    assert exterior.dtype == np.float64 and holes == ()
    np.testing.assert_allclose(exterior, [[10, 10], [30.5, 10], [30, 30], [10, 30]])  # by Order; "30,5" -> 30.5
    assert result[0].bounds == (10.0, 10.0, 30.5, 30.0)


def test_group_labels_are_configurable_and_case_insensitive(tmp_path):
    path = _write(tmp_path / "a.xml", ASAP)
    result = annotations.read_annotations(path, group_labels={"STROMA": "exclude", "_0": "tumor"})
    assert [a.label for a in result] == ["tumor", None, "exclude"]
    with pytest.raises(TypeError, match=r"Received: group_labels="):
        annotations.read_asap_xml(path, group_labels=["_0"])


def _feature(name, geometry, classification=None):
    properties = {"name": name}
    if classification:
        properties["classification"] = {"name": classification, "color": [255, 0, 0]}
    return {"type": "Feature", "geometry": geometry, "properties": properties}


SQUARE = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
HOLE = [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]]


@pytest.mark.parametrize("as_list", [False, True])
def test_read_geojson_polygons_multipolygons_holes_and_classification(tmp_path, as_list):
    features = [
        _feature("t1", {"type": "Polygon", "coordinates": [SQUARE, HOLE]}, "Tumor"),
        _feature("metastases", {"type": "MultiPolygon", "coordinates": [[SQUARE], [[[20, 20], [30, 20], [30, 30]]]]}),
        _feature("pin", {"type": "Point", "coordinates": [3, 3]}, "Tumor"),
        _feature("ex", {"type": "Polygon", "coordinates": [SQUARE]}, "Exclusion"),
    ]
    document = features if as_list else {"type": "FeatureCollection", "features": features}
    path = _write(tmp_path / "a.geojson", json.dumps(document))
    result = annotations.read_annotations(path)
    assert [(a.name, a.group, a.label) for a in result] == [
        ("t1", "Tumor", "tumor"), ("metastases", "metastases", "tumor"), ("ex", "Exclusion", "exclude")]
    exterior, holes = result[0].polygons[0]
    np.testing.assert_allclose(exterior, SQUARE[:-1])  # closing vertex dropped
    assert len(holes) == 1
    np.testing.assert_allclose(holes[0], HOLE[:-1])
    assert len(result[1].polygons) == 2


def test_rasterize_excludes_holes_without_erasing_other_annotations():
    square = annotations.Annotation("a", "g", "tumor", ((np.array(SQUARE[:-1], float), (np.array(HOLE[:-1], float),)),))
    inside_hole = annotations.Annotation("b", "g", "tumor", ((np.array([[4, 4], [6, 4], [6, 6], [4, 6]], float), ()),))
    mask = annotations.rasterize_annotations([square], shape=(16, 16))
    # Pixel centres inside the polygon: the 10x10 square minus the 2x2 hole, the exact areas.
    assert mask.dtype == np.uint8 and mask.sum() == 10 * 10 - 2 * 2
    assert mask[5, 5] == 0 and mask[2, 2] == 1 and mask[10, 10] == 0 and mask[9, 9] == 1
    both = annotations.rasterize_annotations([square, inside_hole], shape=(16, 16))
    assert both.sum() == 10 * 10 and both[5, 5] == 1
    half = annotations.rasterize_annotations([square], origin=(0, 0), scale=0.5, shape=(8, 8))
    assert half.sum() == 5 * 5 - 1 * 1
    shifted = annotations.rasterize_annotations([square], origin=(-3, -1), scale=1.0, shape=(16, 16))
    assert shifted.sum() == 96 and shifted[1, 3] == 1 and shifted[0, 2] == 0
    assert half[2, 2] == 0 and half[0, 0] == 1 and half[6, 6] == 0


@pytest.mark.parametrize("text, reason", [
    ("<ASAP_Annotations><Annotations>", "not valid XML"),
    ("<Other/>", "expected <ASAP_Annotations>"),
    ('<ASAP_Annotations><Annotations><Annotation Name="tiny" Type="Polygon" PartOfGroup="_0"><Coordinates>'
     '<Coordinate Order="0" X="1" Y="1"/><Coordinate Order="1" X="2" Y="2"/></Coordinates></Annotation>'
     "</Annotations></ASAP_Annotations>", "'tiny' is a polygon with 2 point"),
    ('<ASAP_Annotations><Annotations><Annotation Name="nan" Type="Polygon" PartOfGroup="_0"><Coordinates>'
     '<Coordinate Order="0" X="1" Y="1"/><Coordinate Order="1" X="abc" Y="2"/><Coordinate Order="2" X="3" Y="1"/>'
     "</Coordinates></Annotation></Annotations></ASAP_Annotations>", "non-numeric coordinate 'abc'"),
])
def test_malformed_asap_xml_is_rejected_with_file_and_reason(tmp_path, text, reason):
    path = _write(tmp_path / "bad.xml", text)
    with pytest.raises(ValueError, match="Malformed annotation file") as error:
        annotations.read_annotations(path)
    assert str(path) in str(error.value) and reason in str(error.value)


@pytest.mark.parametrize("document, reason", [
    ("{not json", "not valid JSON"),
    (json.dumps({"type": "Point"}), "expected a GeoJSON FeatureCollection"),
    (json.dumps([_feature("two", {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]})]),
     "polygon with 2 point"),
    (json.dumps([_feature("text", {"type": "Polygon", "coordinates": [[[0, 0], ["1", 0], [1, 1]]]})]),
     "non-numeric coordinate '1'"),
])
def test_malformed_geojson_is_rejected_with_file_and_reason(tmp_path, document, reason):
    path = _write(tmp_path / "bad.json", document)
    with pytest.raises(ValueError, match="Malformed annotation file") as error:
        annotations.read_annotations(path)
    assert str(path) in str(error.value) and reason in str(error.value)


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.xml"):
        annotations.read_annotations(tmp_path / "missing.xml")
    path = _write(tmp_path / "notes.txt", "x")
    with pytest.raises(ValueError, match=r"Received: path="):
        annotations.read_annotations(path)


def test_annotation_outside_the_slide_is_named_and_a_vertex_just_outside_is_clipped(tmp_path):
    path = _write(tmp_path / "a.xml", ASAP)
    result = annotations.read_asap_xml(path)
    annotations.check_annotations_within(result, (31, 31))
    clipped = annotations.clip_annotations(result, (30, 40), source=str(path))  # x = 30.5: 0.5 px outside
    np.testing.assert_allclose(clipped[0].polygons[0][0], [[10, 10], [30, 10], [30, 30], [10, 30]])
    assert clipped[1] is result[1]
    with pytest.raises(ValueError, match=r"Annotation 'Annotation 0' in .*a\.xml lies outside the slide"):
        annotations.check_annotations_within(result, (30, 40), source=str(path), tolerance=0)
    with pytest.raises(ValueError, match=r"Annotation 'Annotation 0' in .*a\.xml lies outside the slide"):
        annotations.clip_annotations(result, (20, 40), source=str(path))  # 10.5 px: far outside


@pytest.fixture(autouse=True)
def _clear_keras_session():
    """Overrides the conftest fixture: these tests never touch Keras, and clearing costs ~1 s each."""
    yield

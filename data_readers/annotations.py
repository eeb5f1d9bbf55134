"""Region annotations of whole-slide images: ASAP XML and QuPath GeoJSON, at level-0 coordinates.

Fernández et al. 2021 ("Medical image editing in the latent space of GANs", section 2) labelled
CAMELYON16/17 patches with the metastasis polygons of the challenge's ASAP XML coordinate files. This
module reads those files (and the GeoJSON QuPath exports), maps each annotation's group or
classification to a label (``"tumor"``, ``"exclude"``, or ignored), checks them against the slide
and rasterises them (pixel-centre sampling).

Formats:

- ASAP XML: ``<ASAP_Annotations><Annotations><Annotation Name=".." Type="Polygon"
  PartOfGroup="_0"><Coordinates><Coordinate Order="0" X=".." Y=".."/>...``. Coordinates are level-0
  pixels, sorted by ``Order``. ``Polygon``, ``Spline`` (its control points taken as the polygon) and
  ``Rectangle`` are regions; ``Dot``/``PointSet`` are not and are skipped. A decimal comma
  (``X="1234,5"``, seen in some CAMELYON17 files) is read as a decimal point. CAMELYON16 groups are
  ``_0``/``_1`` (tumour) and ``_2`` (exclusion: non-tumour inside a tumour outline); CAMELYON17 uses
  ``metastases``.
- GeoJSON: a ``FeatureCollection``, a list of ``Feature`` objects or a single ``Feature``, with
  ``Polygon``/``MultiPolygon`` geometries (first ring the outline, the others holes; a
  ``GeometryCollection`` is searched for polygons; points and lines are skipped). The group is
  ``properties.classification.name`` (QuPath) or else ``properties.name``.

Groups are matched against ``group_labels`` exactly, then case-insensitively; an annotation whose
group is not in the mapping gets ``label=None``. The patch extractor refuses such annotations
(`check_groups`: an unmapped group is never silently "normal"); map the group to ``"tumor"`` or
``"exclude"``, or to ``"ignore"`` to skip it on purpose.

Slide bounds: a vertex a little outside the slide (drawing tools let a polygon run past the edge)
is clipped to it; an annotation reaching far outside (more than ``tolerance``) is an error, since
it usually belongs to another slide (`clip_annotations`).
"""

import dataclasses
import json
import math
import os
import xml.etree.ElementTree as ElementTree

import numpy as np

DEFAULT_GROUP_LABELS = {
    "_0": "tumor",
    "_1": "tumor",
    "Tumor": "tumor",
    "metastases": "tumor",
    "_2": "exclude",
    "Exclusion": "exclude",
}
"""Annotation group -> label used when ``group_labels`` is not given (CAMELYON16/17 and QuPath)."""

TUMOR_LABEL, EXCLUDE_LABEL, IGNORE_LABEL = "tumor", "exclude", "ignore"
REGION_LABELS = (TUMOR_LABEL, EXCLUDE_LABEL, IGNORE_LABEL)
"""The labels a group can map to for patch extraction; ``"ignore"`` skips the group's annotations."""

_ASAP_REGION_TYPES = {"polygon", "spline", "rectangle"}
_ASAP_POINT_TYPES = {"dot", "pointset"}
_GEOJSON_SUFFIXES = (".json", ".geojson")


@dataclasses.dataclass(frozen=True)
class Annotation:
    """One annotated region at level-0 pixel coordinates.

    Attributes:
        name: the annotation's name in the file (or ``"feature <i>"`` when it has none).
        group: its group (ASAP ``PartOfGroup``) or classification (GeoJSON).
        label: the mapped label (``"tumor"``, ``"exclude"``, ...) or None when the group is unmapped.
        polygons: tuple of ``(exterior, holes)`` pairs; ``exterior`` is a float64 ``(N, 2)`` array of
            ``(x, y)`` vertices (N >= 3, not repeating the first vertex), ``holes`` a tuple of such arrays.
    """

    name: str
    group: str
    label: object
    polygons: tuple

    @property
    def bounds(self):
        """The ``(x_min, y_min, x_max, y_max)`` box of every vertex, level-0 pixels."""
        points = np.concatenate([exterior for exterior, _ in self.polygons], axis=0)
        x_min, y_min = points.min(axis=0)
        x_max, y_max = points.max(axis=0)
        return float(x_min), float(y_min), float(x_max), float(y_max)


def resolve_group_label(group, group_labels):
    """Returns the label of ``group`` in ``group_labels`` (exact, then case-insensitive), or None."""
    if group in group_labels:
        return group_labels[group]
    folded = {str(key).casefold(): value for key, value in group_labels.items()}
    return folded.get(str(group).casefold())


def _checked_group_labels(group_labels):
    if group_labels is None:
        return dict(DEFAULT_GROUP_LABELS)
    if not isinstance(group_labels, dict):
        raise TypeError(
            f"group_labels must be a dict mapping group names to labels. Received: group_labels={group_labels!r}"
        )
    return dict(group_labels)


def _parse_number(text, *, path, where):
    if text is None:
        raise ValueError(f"Malformed annotation file {path}: {where} is missing a coordinate.")
    cleaned = str(text).strip()
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        value = float(cleaned)
    except ValueError:
        raise ValueError(
            f"Malformed annotation file {path}: {where} has a non-numeric coordinate {text!r}."
        ) from None
    if not math.isfinite(value):
        raise ValueError(f"Malformed annotation file {path}: {where} has a non-finite coordinate {text!r}.")
    return value


def _json_number(value, *, path, where):
    """GeoJSON coordinates are JSON numbers; strings and booleans are rejected."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(
            f"Malformed annotation file {path}: {where} has a non-numeric coordinate {value!r}."
        )
    return _parse_number(value, path=path, where=where)


def _ring(points, *, path, where):
    """Returns a float64 (N, 2) ring without the closing vertex; raises if N < 3."""
    ring = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(ring) > 1 and np.array_equal(ring[0], ring[-1]):
        ring = ring[:-1]
    if len(ring) < 3:
        raise ValueError(
            f"Malformed annotation file {path}: {where} is a polygon with {len(ring)} point(s); "
            "a polygon needs at least 3."
        )
    return ring


def read_asap_xml(path, *, group_labels=None):
    """Returns the region annotations of an ASAP XML file (CAMELYON16/17 coordinate files).

    Args:
        path: the ``.xml`` file.
        group_labels: dict mapping ``PartOfGroup`` names to labels; ``DEFAULT_GROUP_LABELS`` when None.

    Returns:
        A list of `Annotation`, in file order.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the XML is malformed, is not an ASAP annotation file, or a polygon has fewer
            than 3 points or a non-numeric coordinate (the message names the file and the reason).
        TypeError: if ``group_labels`` is not a dict.
    """
    path = os.fspath(path)
    group_labels = _checked_group_labels(group_labels)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Annotation file not found: {path}")
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise ValueError(f"Malformed annotation file {path}: not valid XML ({error}).") from None
    if root.tag != "ASAP_Annotations":
        raise ValueError(
            f"Malformed annotation file {path}: the root element is <{root.tag}>, expected <ASAP_Annotations>."
        )
    annotations = []
    for index, element in enumerate(root.iter("Annotation")):
        name = element.get("Name") or f"annotation {index}"
        kind = (element.get("Type") or "Polygon").casefold()
        if kind in _ASAP_POINT_TYPES:
            continue
        if kind not in _ASAP_REGION_TYPES:
            raise ValueError(
                f"Malformed annotation file {path}: annotation {name!r} has unsupported Type "
                f"{element.get('Type')!r} (expected Polygon, Spline, Rectangle, Dot or PointSet)."
            )
        where = f"annotation {name!r}"
        coordinates = element.findall("./Coordinates/Coordinate")
        points = []
        for position, coordinate in enumerate(coordinates):
            order = coordinate.get("Order")
            order = position if order is None else _parse_number(order, path=path, where=where)
            x = _parse_number(coordinate.get("X"), path=path, where=where)
            y = _parse_number(coordinate.get("Y"), path=path, where=where)
            points.append((order, x, y))
        points.sort(key=lambda point: point[0])
        ring = _ring([(x, y) for _, x, y in points], path=path, where=where)
        group = element.get("PartOfGroup") or "None"
        annotations.append(
            Annotation(name=name, group=group, label=resolve_group_label(group, group_labels),
                       polygons=((ring, ()),))
        )
    return annotations


def _geojson_polygons(geometry, *, path, where):
    """Yields ``(exterior, holes)`` pairs of a GeoJSON geometry; points and lines yield nothing."""
    if geometry is None:
        return
    if not isinstance(geometry, dict) or "type" not in geometry:
        raise ValueError(f"Malformed annotation file {path}: {where} has no valid geometry.")
    kind = geometry["type"]
    if kind == "GeometryCollection":
        for part in geometry.get("geometries", []):
            yield from _geojson_polygons(part, path=path, where=where)
        return
    if kind not in ("Polygon", "MultiPolygon"):
        return
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list):
        raise ValueError(f"Malformed annotation file {path}: {where} has no coordinate list.")
    polygons = [coordinates] if kind == "Polygon" else coordinates
    for rings in polygons:
        if not isinstance(rings, list) or not rings:
            raise ValueError(f"Malformed annotation file {path}: {where} has an empty polygon.")
        parsed = []
        for ring in rings:
            if not isinstance(ring, list):
                raise ValueError(f"Malformed annotation file {path}: {where} has a malformed ring.")
            vertices = []
            for vertex in ring:
                if not isinstance(vertex, (list, tuple)) or len(vertex) < 2:
                    raise ValueError(f"Malformed annotation file {path}: {where} has a malformed vertex {vertex!r}.")
                vertices.append((_json_number(vertex[0], path=path, where=where),
                                 _json_number(vertex[1], path=path, where=where)))
            parsed.append(_ring(vertices, path=path, where=where))
        yield parsed[0], tuple(parsed[1:])


def _feature_group(properties):
    classification = properties.get("classification")
    if isinstance(classification, dict) and classification.get("name"):
        return str(classification["name"])
    if isinstance(classification, str) and classification:
        return classification
    if properties.get("name"):
        return str(properties["name"])
    return "None"


def read_geojson(path, *, group_labels=None):
    """Returns the region annotations of a GeoJSON file as exported by QuPath.

    Args:
        path: the ``.geojson``/``.json`` file (a FeatureCollection, a list of Features or a Feature).
        group_labels: dict mapping classification names to labels; ``DEFAULT_GROUP_LABELS`` when None.

    Returns:
        A list of `Annotation` (one per Feature with a polygonal geometry), in file order.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the JSON is malformed or not GeoJSON features, or a ring has fewer than 3
            points or a non-numeric coordinate (the message names the file and the reason).
        TypeError: if ``group_labels`` is not a dict.
    """
    path = os.fspath(path)
    group_labels = _checked_group_labels(group_labels)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Annotation file not found: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"Malformed annotation file {path}: not valid JSON ({error}).") from None
    if isinstance(document, dict) and document.get("type") == "FeatureCollection":
        features = document.get("features")
    elif isinstance(document, dict) and document.get("type") == "Feature":
        features = [document]
    elif isinstance(document, list):
        features = document
    else:
        features = None
    if not isinstance(features, list):
        raise ValueError(
            f"Malformed annotation file {path}: expected a GeoJSON FeatureCollection, a list of Features "
            "or a Feature."
        )
    annotations = []
    for index, feature in enumerate(features):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise ValueError(f"Malformed annotation file {path}: item {index} is not a GeoJSON Feature.")
        properties = feature.get("properties") or {}
        name = str(properties.get("name") or feature.get("id") or f"feature {index}")
        polygons = tuple(_geojson_polygons(feature.get("geometry"), path=path, where=f"feature {name!r}"))
        if not polygons:
            continue
        group = _feature_group(properties)
        annotations.append(
            Annotation(name=name, group=group, label=resolve_group_label(group, group_labels),
                       polygons=polygons)
        )
    return annotations


def read_annotations(path, *, group_labels=None):
    """Returns the annotations of an ASAP XML or GeoJSON file, chosen by its extension.

    Args:
        path: ``.xml`` (ASAP) or ``.json``/``.geojson`` (GeoJSON) file.
        group_labels: dict mapping group names to labels; ``DEFAULT_GROUP_LABELS`` when None.

    Returns:
        A list of `Annotation`.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the extension is not one of the above or the file is malformed.
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].casefold()
    if suffix == ".xml":
        return read_asap_xml(path, group_labels=group_labels)
    if suffix in _GEOJSON_SUFFIXES:
        return read_geojson(path, group_labels=group_labels)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Annotation file not found: {path}")
    raise ValueError(
        f"Unsupported annotation file {path}: expected .xml (ASAP) or .json/.geojson (GeoJSON). "
        f"Received: path={path!r}"
    )


def default_tolerance(dimensions):
    """The clipping tolerance of `clip_annotations`: 1 % of the slide's longer side, at least 2 px."""
    return max(2.0, 0.01 * max(dimensions))


def check_annotations_within(annotations, dimensions, *, source="", tolerance=None):
    """Raises if any annotation reaches further outside the slide than ``tolerance``.

    Args:
        annotations: list of `Annotation`.
        dimensions: the slide's level-0 ``(width, height)``.
        source: the annotation file, quoted in the message.
        tolerance: level-0 pixels a vertex may lie outside ``[0, width] x [0, height]``;
            `default_tolerance` when None, 0 for none.

    Raises:
        ValueError: naming the first annotation with a vertex further outside.
    """
    width, height = dimensions
    tolerance = default_tolerance(dimensions) if tolerance is None else float(tolerance)
    for annotation in annotations:
        x_min, y_min, x_max, y_max = annotation.bounds
        beyond = max(-x_min, -y_min, x_max - width, y_max - height)
        if beyond > tolerance:
            where = f" in {source}" if source else ""
            raise ValueError(
                f"Annotation {annotation.name!r}{where} lies outside the slide: its bounds "
                f"({x_min:g}, {y_min:g})-({x_max:g}, {y_max:g}) exceed the level-0 size {width}x{height} "
                f"by {beyond:g} px (vertices up to {tolerance:g} px outside are clipped); is it this "
                "slide's annotation file?"
            )


def clip_annotations(annotations, dimensions, *, source="", tolerance=None):
    """Returns the annotations with every vertex clipped to the slide ``[0, width] x [0, height]``.

    Vertices up to ``tolerance`` outside (e.g. 0.5 px past the edge) are moved onto the edge;
    anything further raises (see `check_annotations_within`).

    Returns:
        A list of `Annotation` (the same objects when nothing needed clipping).
    """
    check_annotations_within(annotations, dimensions, source=source, tolerance=tolerance)
    width, height = dimensions
    low, high = np.zeros(2), np.array([width, height], dtype=np.float64)
    clipped = []
    for annotation in annotations:
        x_min, y_min, x_max, y_max = annotation.bounds
        if x_min >= 0 and y_min >= 0 and x_max <= width and y_max <= height:
            clipped.append(annotation)
            continue
        polygons = tuple((np.clip(exterior, low, high), tuple(np.clip(hole, low, high) for hole in holes))
                         for exterior, holes in annotation.polygons)
        clipped.append(dataclasses.replace(annotation, polygons=polygons))
    return clipped


def check_groups(annotations, *, source=""):
    """Raises if any annotation's group maps to no label (``label is None``).

    The message lists the groups without a label, every group in the file and how to map them,
    so that a tumour outline in an unexpected group (``"Tumour"``) is never read as normal tissue.

    Raises:
        ValueError: for the unmapped groups, in one line.
    """
    unmapped = {}
    for annotation in annotations:
        if annotation.label is None:
            unmapped[annotation.group] = unmapped.get(annotation.group, 0) + 1
    if not unmapped:
        return
    found = sorted({annotation.group for annotation in annotations})
    first = sorted(unmapped)[0]
    listed = ", ".join(f"{group!r} ({count} annotation{'s' if count > 1 else ''})"
                       for group, count in sorted(unmapped.items()))
    where = f"Annotation file {source}" if source else "The annotations"
    raise ValueError(
        f"{where} has groups that map to no label: {listed}; groups in the file: "
        f"{', '.join(repr(g) for g in found)}. Map each to 'tumor' or 'exclude' "
        f"(group_labels={{{first!r}: 'tumor'}}, on the command line --group-label {first}=tumor), or "
        f"ignore it on purpose (group_labels={{{first!r}: 'ignore'}}, --ignore-group {first})."
    )


def _fill_even_odd(mask, rings):
    """Sets the pixels of ``mask`` whose centre is inside ``rings`` (even-odd rule, raster units).

    A scanline fill in numpy: for each pixel row, the crossings of the row's centre line with every
    edge (half-open in y, so a vertex is counted once) are sorted and paired, and the columns whose
    centres lie in ``[left, right)`` are set. Unlike ``cv2.fillPoly``, which fills edge pixels
    inclusively and so grows a polygon by about a pixel, this gives exact areas for pixel-aligned
    polygons.
    """
    height, width = mask.shape
    starts = np.concatenate([ring for ring in rings])
    ends = np.concatenate([np.roll(ring, -1, axis=0) for ring in rings])
    x0, y0, x1, y1 = starts[:, 0], starts[:, 1], ends[:, 0], ends[:, 1]
    row_first = max(0, int(np.floor(min(y0.min(), y1.min()) - 0.5)))
    row_last = min(height - 1, int(np.ceil(max(y0.max(), y1.max()) - 0.5)))
    if row_first > row_last:
        return
    block = max(1, 4_000_000 // max(1, len(x0)))  # bounds the (rows, edges) arrays to ~32 MB
    for block_first in range(row_first, row_last + 1, block):
        rows = np.arange(block_first, min(row_last + 1, block_first + block))
        centres = rows[:, None] + 0.5
        crosses = (y0[None, :] <= centres) != (y1[None, :] <= centres)
        with np.errstate(divide="ignore", invalid="ignore"):
            xs = x0[None, :] + (centres - y0[None, :]) * (x1 - x0)[None, :] / (y1 - y0)[None, :]
        xs = np.where(crosses, xs, np.inf)
        xs.sort(axis=1)
        pairs = crosses.sum(axis=1) // 2
        for row, count, crossings in zip(rows, pairs, xs):
            if not count:
                continue
            lefts = np.clip(np.ceil(crossings[0:2 * count:2] - 0.5), 0, width).astype(np.int64)
            rights = np.clip(np.ceil(crossings[1:2 * count:2] - 0.5), 0, width).astype(np.int64)
            for left, right in zip(lefts.tolist(), rights.tolist()):
                if right > left:
                    mask[row, left:right] = 1


def rasterize_annotations(annotations, *, origin=(0.0, 0.0), scale=1.0, shape):
    """Returns a uint8 mask, 1 inside any of ``annotations`` (holes excluded), 0 elsewhere.

    A pixel ``(row, col)`` of the mask covers level-0 points ``origin + [col, col + 1) / scale``
    (and likewise for rows) and is set when its centre falls inside the polygon and outside its
    holes, so an axis-aligned square of side ``n`` pixels fills ``n * n`` pixels. Each polygon is
    drawn on its own so that one annotation's hole never erases another annotation.

    Args:
        annotations: list of `Annotation`.
        origin: level-0 ``(x, y)`` of the mask's top-left corner.
        scale: mask pixels per level-0 pixel (e.g. ``1 / downsample``).
        shape: the mask's ``(height, width)``.

    Returns:
        A uint8 array of ``shape``.
    """
    origin = np.asarray(origin, dtype=np.float64)
    mask = np.zeros(shape, dtype=np.uint8)
    height, width = shape
    for annotation in annotations:
        x_min, y_min, x_max, y_max = annotation.bounds
        if ((x_max - origin[0]) * scale < 0 or (y_max - origin[1]) * scale < 0
                or (x_min - origin[0]) * scale > width or (y_min - origin[1]) * scale > height):
            continue  # entirely outside the mask
        layer = np.zeros(shape, dtype=np.uint8)
        for exterior, holes in annotation.polygons:
            _fill_even_odd(layer, [(ring - origin) * scale for ring in (exterior, *holes)])
        mask |= layer
    return mask

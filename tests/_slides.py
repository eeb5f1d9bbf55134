"""Builders of small synthetic whole slides for the WSI tests and benchmark.

A slide is a tiled pyramidal TIFF (tiles 256, deflate (zlib level 1), successive IFDs: the layout OpenSlide's
generic-tiff reader accepts; a ``subifds=`` pyramid is read as a single level) holding a synthetic
H&E-like texture: pink fibrous stroma with purple nuclei, a denser and darker tumour region, and a
separate faint (pale) tissue region, on white glass. The painted truth masks are returned with it.
"""

import json
import xml.etree.ElementTree as ElementTree

import cv2
import numpy as np
import tifffile

CELL = 256
WIDTH, HEIGHT = 8 * CELL, 6 * CELL  # 2048 x 1536 level 0
MAIN_TISSUE = (1 * CELL, 1 * CELL, 6 * CELL, 5 * CELL)  # x0, y0, x1, y1
FAINT_TISSUE = (7 * CELL, 1 * CELL, 8 * CELL, 3 * CELL)
TUMOR_POLYGON = np.array(
    [(560, 520), (1000, 470), (1300, 560), (1310, 900), (1200, 1010), (700, 1020), (520, 900)],
    dtype=np.float64,
)
EXCLUSION_POLYGON = np.array(
    [(1 * CELL, 4 * CELL), (2 * CELL, 4 * CELL), (2 * CELL, 5 * CELL), (1 * CELL, 5 * CELL)], dtype=np.float64
)
FAINT_BLEND = 0.3  # faint tissue = white + 0.3 * (tissue - white)


def write_pyramid_tiff(path, image, *, num_levels=3, tile=256):
    """Writes an RGB uint8 image as a tiled pyramidal TIFF that OpenSlide reads (levels halve)."""
    levels = [image]
    for _ in range(num_levels - 1):
        previous = levels[-1]
        levels.append(cv2.resize(previous, (previous.shape[1] // 2, previous.shape[0] // 2),
                                 interpolation=cv2.INTER_AREA))
    with tifffile.TiffWriter(path) as writer:
        for index, level in enumerate(levels):
            writer.write(level, tile=(tile, tile), photometric="rgb", compression="zlib",
                         compressionargs={"level": 1}, subfiletype=0 if index == 0 else 1)
    return levels


def tissue_texture(height, width, *, seed=0, nuclei_per_kpx=2.5, nucleus_color=(110, 60, 150),
                   nucleus_radius=(3, 6)):
    """Returns an H&E-like uint8 RGB texture: pink fibrous stroma with purple elliptical nuclei."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((height, width), dtype=np.float32)
    fibres = cv2.GaussianBlur(noise, (0, 0), sigmaX=6, sigmaY=1.5)
    fibres = fibres / (np.abs(fibres).max() + 1e-6)
    grain = cv2.GaussianBlur(noise, (0, 0), 1.0)
    stroma = np.array([228, 150, 190], np.float32) + fibres[..., None] * np.array([18, 30, 22], np.float32)
    stroma += grain[..., None] * 4
    image = np.clip(stroma, 0, 255).astype(np.uint8)
    count = int(height * width / 1000 * nuclei_per_kpx)
    centers = np.stack([rng.integers(0, width, count), rng.integers(0, height, count)], axis=1).tolist()
    axes = rng.integers(*nucleus_radius, size=(count, 2)).tolist()
    angles = rng.uniform(0, 180, count).tolist()
    shades = np.clip(np.array(nucleus_color) + rng.normal(0, 12, (count, 3)), 0, 255).astype(int).tolist()
    for center, axis, angle, shade in zip(centers, axes, angles, shades):
        cv2.ellipse(image, center, axis, angle, 0, 360, shade, -1, cv2.LINE_AA)
    return image


def painted_slide(*, seed=0):
    """Returns ``(image, truth)``: the level-0 RGB slide and bool masks ``tissue``, ``faint``, ``tumor``."""
    rng = np.random.default_rng(seed)
    image = rng.integers(248, 253, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)  # glass, slight noise
    x0, y0, x1, y1 = MAIN_TISSUE
    image[y0:y1, x0:x1] = tissue_texture(y1 - y0, x1 - x0, seed=seed + 1)
    tumor = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.fillPoly(tumor, [np.round(TUMOR_POLYGON).astype(np.int32)], 1)
    tumor = tumor.astype(bool)
    tx0, ty0 = np.floor(TUMOR_POLYGON.min(axis=0)).astype(int)
    tx1, ty1 = np.ceil(TUMOR_POLYGON.max(axis=0)).astype(int) + 1
    tumor_texture = tissue_texture(ty1 - ty0, tx1 - tx0, seed=seed + 2, nuclei_per_kpx=9.0,
                                   nucleus_color=(75, 35, 120), nucleus_radius=(4, 9))
    inside = tumor[ty0:ty1, tx0:tx1]
    image[ty0:ty1, tx0:tx1][inside] = tumor_texture[inside]
    fx0, fy0, fx1, fy1 = FAINT_TISSUE
    strong = tissue_texture(fy1 - fy0, fx1 - fx0, seed=seed + 3).astype(np.float32)
    image[fy0:fy1, fx0:fx1] = np.round(255 - FAINT_BLEND * (255 - strong)).astype(np.uint8)
    tissue = np.zeros((HEIGHT, WIDTH), bool)
    tissue[y0:y1, x0:x1] = True
    faint = np.zeros((HEIGHT, WIDTH), bool)
    faint[fy0:fy1, fx0:fx1] = True
    return image, {"tissue": tissue | faint, "faint": faint, "tumor": tumor}


def write_asap_xml(path, regions):
    """Writes ``[(name, group, (N, 2) points), ...]`` as an ASAP XML annotation file."""
    root = ElementTree.Element("ASAP_Annotations")
    container = ElementTree.SubElement(root, "Annotations")
    for name, group, points in regions:
        element = ElementTree.SubElement(container, "Annotation", Name=name, Type="Polygon",
                                         PartOfGroup=group, Color="#F4FA58")
        coordinates = ElementTree.SubElement(element, "Coordinates")
        for order, (x, y) in enumerate(points):
            ElementTree.SubElement(coordinates, "Coordinate", Order=str(order), X=repr(float(x)), Y=repr(float(y)))
    groups = ElementTree.SubElement(root, "AnnotationGroups")
    for group in sorted({group for _, group, _ in regions}):
        ElementTree.SubElement(groups, "Group", Name=group, PartOfGroup="None", Color="#64FE2E")
    ElementTree.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def write_geojson(path, regions, *, as_list=False):
    """Writes ``[(name, classification, rings), ...]`` (rings: exterior then holes) as QuPath GeoJSON."""
    features = []
    for name, classification, rings in regions:
        closed = [[[float(x), float(y)] for x, y in ring] + [[float(ring[0][0]), float(ring[0][1])]]
                  for ring in rings]
        features.append({
            "type": "Feature",
            "id": name,
            "geometry": {"type": "Polygon", "coordinates": closed},
            "properties": {"objectType": "annotation", "name": name,
                           "classification": {"name": classification, "color": [200, 0, 0]}},
        })
    document = features if as_list else {"type": "FeatureCollection", "features": features}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle)


def build_test_slide(directory, *, name="slide_a", seed=0):
    """Writes the painted slide with its ASAP XML and GeoJSON annotations; returns paths and truth."""
    image, truth = painted_slide(seed=seed)
    slide_path = directory / f"{name}.tif"
    levels = write_pyramid_tiff(str(slide_path), image)
    xml_path = directory / f"{name}.xml"
    write_asap_xml(str(xml_path), [("Annotation 0", "_0", TUMOR_POLYGON),
                                   ("Annotation 1", "_2", EXCLUSION_POLYGON)])
    geojson_path = directory / f"{name}.geojson"
    write_geojson(str(geojson_path), [("tumour", "Tumor", [TUMOR_POLYGON]),
                                      ("excluded", "Exclusion", [EXCLUSION_POLYGON])])
    return {"slide": slide_path, "xml": xml_path, "geojson": geojson_path, "levels": levels, **truth}

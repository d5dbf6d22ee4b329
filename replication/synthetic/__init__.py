"""The embedded synthetic data set, rendered in the FashionAI layout (DESIGN §6; layout §3).

No copy of FashionAI may ship with the project, so this package draws its own: garments built
from parameters (neckline cut, collar, neck band, lapel, sleeve end, hem and pant ends), either
lying alone on a backdrop (a *flat-lay*) or worn by a drawn figure with head, arms, legs and feet
(*on-model*). It follows DESIGN §6's rendering guide:

- **Body** (:mod:`.body`). A figure on an artists' canon of 7.4-8.1 heads (:data:`.body.CANON_Y`,
  :data:`.body.HALF_WIDTH`, :data:`.body.LIMB_LENGTH`), varied in height, width, arm and leg
  angles, skin, hair, position and scale, and sometimes cut off by the frame
  (:func:`.body.make_figure`).
- **Lengths on landmarks** (:mod:`.garments`). A sleeve ends at a fraction of the arm
  (:data:`.garments.SLEEVE_END`), coat and skirt hems at a height between hip, knee, calf, ankle
  and floor (:data:`.garments.COAT_HEM`, :data:`.garments.SKIRT_HEM`), pants at a fraction of the
  leg (:data:`.garments.PANT_END`). A flat-lay is the same garment without the figure, framed on
  its own outline (:func:`.geometry.garment_extent`), so its length can only be judged against
  its own width: the reason the paper separates the two domains.
- **Design details** are small shapes at the neck (:func:`.geometry.neckline_edge`,
  :func:`.drawing.draw_collar`, :func:`.drawing.draw_neck_band`, :func:`.drawing.draw_lapels`)
  with thin outlines and slight shade changes: they survive at 128-256 px and are mostly lost at
  32 px.
- **Invisible** (value 0 of every task): the attribute's region is out of frame, covered (a
  scarf, hair, a bag, an arm behind the back, folded sleeves) or absent
  (:data:`.sampling.INVISIBLE_MODES`).
- **Nuisance:** colours, textures (solid, stripes, dots, checks, prints), backdrops (studio
  gradient, floor, blurred clutter), directional light and cast shadow, sensor noise, JPEG
  quality 75-95, aspect ratio 3:4 to 1:1, small rotations (drawn with the scene in
  :mod:`.sampling`, applied in :mod:`.camera`).
- **The paper's own difficulties, at stated rates** (:mod:`.mechanisms`; never tuned toward a
  verdict): flat-lays on a dress form, on a hanger or held by a hand, and skin-toned garments,
  which a human parser may take for a person (§3.2); a wide camera and wide light in a share of
  the images, variation that augmentation can help with (§3.1.2 (3)); hair, a scarf, a jacket
  or an inner collar over part of the neck and lapel regions (§4.2).
- **``m`` rows.** Every value has a continuous shape or length parameter with a range
  (:data:`.garments.DESIGN_PARAM`, :data:`.garments.LENGTH_PARAM`); values whose ranges touch are
  neighbours. A row rendered close to such a border (probability :data:`.sampling.AMBIGUOUS_P`)
  marks the neighbour ``m``; the ``y`` stays the rendered value. About 3 % of rows get an ``m``,
  as in the real data.

Besides the FashionAI layout (``Annotations/label.csv``, ``Images/<task>/<name>.jpg``) every image
gets the truth the real data lacks: ``Truth/truth.csv`` (``image,flat,mask`` and the mechanisms it
got, :data:`replication.data.truth.MECHANISM_COLUMNS`) and a part mask PNG in the LIP label set
(:data:`replication.data.truth.LIP`), so that the flat/on-model screening of paper §3.2 can be
scored against truth.

Determinism: each image's random generators derive only from ``(seed, task, index)``, so the same
arguments give byte-identical files for any number of worker processes (same NumPy, Pillow and
zlib versions).

All geometry is in *body coordinates*: head heights, x to the person's left (the image's right,
since the figure faces the camera), y down from the crown.

Modules, each importing only those above it:

- :mod:`.palette`: colours and weighted choices.
- :mod:`.body`: proportions, landmarks, limbs as joint chains, the :class:`.body.Figure` and its pose.
- :mod:`.garments`: the value tables (lengths on landmarks, design shapes, value weights), the
  garment dataclasses, everyday garments sampled with their usual cut.
- :mod:`.mechanisms`: the paper's difficulties, their stated rates, and counting them in a truth.
- :mod:`.sampling`: the :class:`.sampling.Scene` of one image (value, flat-lay or on-model, figure,
  garments, props, framing, Invisible modes, ``m`` labels, nuisance, mechanisms):
  :func:`sample_scene`.
- :mod:`.geometry`: arcs, ellipses, bands along polylines, garment outlines and extents, the
  neck and lapel regions.
- :mod:`.canvas`: the image and its mask drawn together, fabric patterns.
- :mod:`.staging`: dress forms, hangers, a holding hand, hair and scarves over a region.
- :mod:`.camera`: the framing, the wide camera, light, wide light and noise.
- :mod:`.drawing`: backdrops, one ``draw_*`` per part, the scene: :func:`render_image`.
- :mod:`.writer`: file names, label strings, the truth's mechanisms, the parallel job runner:
  :func:`generate`.
"""

from __future__ import annotations

from replication.synthetic.drawing import render_image, render_scene
from replication.synthetic.sampling import sample_scene
from replication.synthetic.writer import generate, image_name

__all__ = [
    "generate", "render_image", "render_scene", "sample_scene", "image_name",
]

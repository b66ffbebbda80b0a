"""viz.frames_player: an animation that needs nothing from another host."""

import re

import numpy as np

from dcgan_lib.viz import frames_player


def player_html(display_px=200):
    frames = [np.full((10, 12), v) for v in (0.0, 0.5, 1.0)]
    return frames_player(frames, ["a", "b", "c"], "p1", alt="three grey frames",
                         display_px=display_px).data


def test_player_requests_nothing_from_another_host():
    html = player_html()
    assert not re.search(r"https?://|//[a-z]", html)
    assert "<link" not in html and "font" not in html.lower()


def test_player_frames_are_stored_at_twice_the_displayed_width():
    import base64
    import io

    from PIL import Image

    html = player_html(display_px=200)
    first = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html).group(1)
    image = Image.open(io.BytesIO(base64.b64decode(first)))
    assert image.width >= 2 * 200
    assert "width='200'" in html and "alt='three grey frames'" in html


def test_player_holds_one_label_per_frame():
    html = player_html()
    assert html.count("data:image/png;base64,") == 3 + 1  # the frames, and the first shown
    assert '["a", "b", "c"]' in html

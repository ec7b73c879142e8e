"""Draw docs/angle_convention.png from the package's own convention code.

    python docs/make_angle_figure.py
"""

from pathlib import Path

import cv2
import numpy as np

from grasp_seg_ros.core.grasp import Grasp2D

SIZE = 420
WHITE, BLACK, RED, BLUE, GREY = (255, 255, 255), (0, 0, 0), (40, 40, 220), (200, 90, 30), \
    (150, 150, 150)


def pt(rc):
    return int(round(rc[1])), int(round(rc[0]))


def main() -> None:
    img = np.full((SIZE, SIZE, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    # image axes: column to the right, row downwards
    cv2.arrowedLine(img, (20, 20), (140, 20), BLACK, 2, tipLength=0.12)
    cv2.arrowedLine(img, (20, 20), (20, 140), BLACK, 2, tipLength=0.12)
    cv2.putText(img, "col (u)", (60, 42), font, 0.5, BLACK, 1, cv2.LINE_AA)
    cv2.putText(img, "row (v)", (26, 160), font, 0.5, BLACK, 1, cv2.LINE_AA)
    angle = np.radians(35)
    g = Grasp2D(row=250, col=220, angle_rad=float(angle), width_px=190.0, quality=1.0)
    centre = np.array([g.row, g.col], float)
    # an object lying across the closing direction
    along = np.array([np.cos(angle), np.sin(angle)])  # (row, col): the jaw direction
    closing = np.array([-np.sin(angle), np.cos(angle)])
    corners = [centre + a * along * 90 + b * closing * 45
               for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    cv2.fillPoly(img, [np.array([pt(c) for c in corners], np.int32)], (225, 225, 225))
    # reference: +col through the centre
    cv2.line(img, pt(centre), pt(centre + np.array([0, 160])), GREY, 1, cv2.LINE_AA)
    cv2.ellipse(img, pt(centre), (70, 70), 0, -np.degrees(angle), 0, BLUE, 2, cv2.LINE_AA)
    cv2.putText(img, "angle", pt(centre + np.array([-30, 80])), font, 0.55, BLUE, 1,
                cv2.LINE_AA)
    tips = g.finger_points()
    for tip in tips:  # fingers, perpendicular to the closing direction
        cv2.line(img, pt(tip - along * 25), pt(tip + along * 25), RED, 4, cv2.LINE_AA)
    cv2.arrowedLine(img, pt(centre), pt(tips[1]), RED, 2, cv2.LINE_AA, tipLength=0.1)
    cv2.putText(img, "closing axis = pose x", pt(tips[1] + np.array([-12, -150])), font,
                0.5, RED, 1, cv2.LINE_AA)
    cv2.putText(img, "width", pt(tips[0] + np.array([30, -40])), font, 0.5, RED, 1,
                cv2.LINE_AA)
    cv2.putText(img, "angle > 0: counter-clockwise on screen", (20, SIZE - 40), font, 0.5,
                BLACK, 1, cv2.LINE_AA)
    cv2.putText(img, "closing (d_row, d_col) = (-sin a, cos a)", (20, SIZE - 18), font, 0.5,
                BLACK, 1, cv2.LINE_AA)
    out = Path(__file__).with_name("angle_convention.png")
    cv2.imwrite(str(out), img)


if __name__ == "__main__":
    main()

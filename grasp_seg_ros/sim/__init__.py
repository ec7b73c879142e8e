"""PyBullet scenes, depth rendering with a sensor noise model, and synthetic labels."""

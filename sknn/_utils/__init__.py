"""Leaf helpers every layer of sknn may import; they import nothing of sknn's."""

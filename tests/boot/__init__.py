"""Tests for sign-artifacts and Authenticode."""

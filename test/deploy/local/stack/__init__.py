"""Tests of the local stack toolbox, deploy/local/stack."""

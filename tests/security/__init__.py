"""The findings of the security review, each as a test that failed before its fix."""

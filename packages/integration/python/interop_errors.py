"""Exceptions the interop test daemon raises, in a module of their own: Pyro refuses to rebuild
classes whose name contains "__" (such as __main__.X), so a class a peer should see by name lives
here."""


class CustomError(Exception):
    def __init__(self, message, code):
        super().__init__(message, code)
        self.code = code
        self.detail = "extra attribute"

import warnings

# advanced-alchemy 1.12 uses a decorator SQLAlchemy 2.1 deprecates; it warns once, on import.
warnings.filterwarnings("ignore", message="The declarative_mixin decorator")

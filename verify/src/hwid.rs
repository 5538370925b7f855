//! KooMarket hardware identifiers: parsing, normalisation, salted hashing and K-of-N matching.

"""AdvertiseX's PyFlink SQL jobs: SQL in .sql files, thin Python drivers that run them."""

"""Page sizes of the request operations, for the services and the route table alike (no pydantic: every handler
loads the route table, and these should cost it nothing)."""

# Jobs per page of a tag's list (its `limit` query parameter, also in the route table's document).
LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT = 10, 100
# File links per read answer: each file's link appears twice (files[].url and downloadUrls), about 3 KB in AWS with
# the session token, so the largest page answers about 1.6 MB; the rest are a cursor away (and all of them in the
# manifest, whose link every answer with links carries).
READ_FILES_DEFAULT_LIMIT, READ_FILES_MAX_LIMIT = 100, 500
# Courses per page of the course listing (the console's course picker).
COURSES_DEFAULT_LIMIT, COURSES_MAX_LIMIT = 20, 50

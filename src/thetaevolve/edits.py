"""Turning an LLM response into a child program (SEARCH/REPLACE blocks or a full rewrite).

Seam used by the gym:
    apply_response(parent_code, response, mode="diff", scope="whole") -> EditResult
EditResult.code is the child program (None on failure); EditResult.outcome is None on
success or one of Outcome.NO_DIFF, EDIT_NO_MATCH, EDIT_AMBIGUOUS, EDIT_OUTSIDE_BLOCK.
"""

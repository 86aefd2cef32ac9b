//! Write-once Unicode PST writer (MS-PST; `shared/formats/pst.md` §17).
//!
//! Layers mirror the reader:
//!
//! * [`ndb`] — places blocks and pages in a new file as they arrive, then writes the node and
//!   block B-trees, the allocation maps, the density list and the header at the end
//!   ([`ndb::NdbWriter`]);
//! * [`ltp`] — builds heap-on-node pages, BTHs, property contexts and table contexts as
//!   [`NodeContent`] values;
//! * [`store`] — the store skeleton, folders, messages, recipients and attachments;
//! * [`sink`] — the `mailmig_ir::Sink` (`--to pst`).
//!
//! The boundary between the NDB and LTP layers is [`NodeContent`]: the LTP layer hands the
//! NDB layer a node's data already cut into blocks (a heap-on-node is one block per heap
//! page, MS-PST 2.3.1) together with its subnodes, and the NDB layer decides where the blocks
//! go, builds XBLOCK/XXBLOCK data trees (MS-PST 2.2.2.8.3.2) and SLBLOCK/SIBLOCK subnode trees
//! (MS-PST 2.2.2.8.3.3), and records the node in the node B-tree.

pub mod ltp;
pub mod ndb;
pub mod sink;
pub mod store;

pub use sink::PstSink;
pub use store::StoreWriter;

/// Largest payload of one data block in a Unicode PST: 8,192 bytes minus the 16-byte
/// BLOCKTRAILER (MS-PST 2.2.2.8.1).
pub const MAX_BLOCK_DATA: usize = 8176;

/// One node's data as the NDB layer writes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeContent {
    /// The node's data stream, already cut into blocks of at most [`MAX_BLOCK_DATA`] bytes.
    /// One block is written as a plain data block; more become an XBLOCK, or an XXBLOCK when
    /// one XBLOCK cannot list them all. An empty list writes a node with no data block
    /// (`bidData` = 0).
    pub blocks: Vec<Vec<u8>>,
    /// The node's data stream as a blob instead (then `blocks` is empty): cut into blocks as
    /// its pieces are read when the node is written, so a large or streamed attachment is
    /// never held whole. The blocks and data tree are those `blocks` would give.
    pub stream: Option<mailmig_ir::Blob>,
    /// Subnodes, written as an SLBLOCK (or SIBLOCK over SLBLOCKs when there are many).
    /// Subnode NIDs must be unique within this list; the NDB layer sorts them.
    pub subnodes: Vec<SubnodeContent>,
}

impl NodeContent {
    /// A raw byte stream (attachment data, a large property value) cut into
    /// [`MAX_BLOCK_DATA`]-byte blocks.
    pub fn from_stream(data: &[u8]) -> Self {
        NodeContent {
            blocks: data.chunks(MAX_BLOCK_DATA).map(<[u8]>::to_vec).collect(),
            ..NodeContent::default()
        }
    }

    /// A raw byte stream held as a blob, cut into [`MAX_BLOCK_DATA`]-byte blocks when the
    /// node is written ([`NodeContent::stream`]).
    pub fn from_blob(data: mailmig_ir::Blob) -> Self {
        NodeContent {
            stream: Some(data),
            ..NodeContent::default()
        }
    }

    /// The lengths of the node's own data blocks, in order.
    pub fn block_lens(&self) -> impl Iterator<Item = usize> + '_ {
        let streamed = self.stream.as_ref().map_or(0, mailmig_ir::Blob::len);
        let full = streamed / MAX_BLOCK_DATA;
        let rest = streamed % MAX_BLOCK_DATA;
        self.blocks
            .iter()
            .map(Vec::len)
            .chain(std::iter::repeat_n(MAX_BLOCK_DATA, full))
            .chain((rest > 0).then_some(rest))
    }

    /// The number of the node's own data blocks.
    pub fn block_count(&self) -> usize {
        self.blocks.len()
            + self
                .stream
                .as_ref()
                .map_or(0, |b| b.len().div_ceil(MAX_BLOCK_DATA))
    }

    /// The length of the node's own data stream.
    pub fn data_len(&self) -> u64 {
        self.block_lens().map(|n| n as u64).sum()
    }
}

/// One entry of a node's subnode tree (MS-PST 2.2.2.8.3.3.1.1 SLENTRY): its NID and its own
/// data and nested subnodes (embedded messages nest several levels).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubnodeContent {
    /// The subnode's NID (unique among its siblings).
    pub nid: u32,
    /// Its data and its own subnodes.
    pub content: NodeContent,
}

/// Why writing a PST failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The output file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A block handed to the NDB layer is larger than [`MAX_BLOCK_DATA`].
    #[error("block of {len} bytes for node 0x{nid:X} exceeds {MAX_BLOCK_DATA}")]
    BlockTooLarge {
        /// The node.
        nid: u32,
        /// The block's length.
        len: usize,
    },
    /// A node or subnode NID was added twice.
    #[error("node 0x{nid:X} added twice")]
    DuplicateNid {
        /// The NID.
        nid: u32,
    },
    /// The file would exceed what the format or the writer supports.
    #[error("{0}")]
    TooLarge(String),
    /// A value cannot be represented in a PST (for example a heap item over 3,580 bytes
    /// that was not moved to a subnode).
    #[error("{0}")]
    Unrepresentable(String),
}
